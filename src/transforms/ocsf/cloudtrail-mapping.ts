/**
 * `builtin:cloudtrail`: CloudTrail events (records of the `cloudtrail` format, whose fields are
 * the event JSON) -> OCSF 1.1.0, one class per event, following what Amazon Security Lake emits
 * for its CloudTrail management-events source (the AWS-contributed mappings and samples in
 * ocsf/examples, `mappings/markdown/AWS/v1.1.0/CloudTrail/{API Activity,Authentication,Account
 * Change}`; copies of the samples in test/fixtures/ocsf-examples/).
 *
 * Which class (by eventSource + eventName, the way Security Lake selects):
 * - Authentication 3002: console sign-in (`signin.amazonaws.com` ConsoleLogin, SwitchRole,
 *   ExternalIdPDirectoryLogin, UserAuthentication -> Logon; CheckMfa, CredentialChallenge,
 *   CredentialVerification -> Other) and STS federation (AssumeRoleWithSAML,
 *   AssumeRoleWithWebIdentity -> Logon, auth_protocol SAML / OpenID). Plain AssumeRole is an
 *   already-authenticated principal taking a role: API Activity.
 * - Account Change 3001: IAM user and role changes (`iam.amazonaws.com` CreateUser/CreateRole ->
 *   Create, DeleteUser/DeleteRole -> Delete, Attach/Put{User,Role}Policy -> Attach Policy,
 *   Detach/Delete{User,Role}Policy -> Detach Policy, ChangePassword/UpdateLoginProfile and the
 *   sign-in PasswordUpdated -> Password Change, EnableMFADevice/DeactivateMFADevice -> MFA Factor
 *   Enable/Disable, Update{User,Role}, UpdateAssumeRolePolicy, AddUserToGroup, RemoveUserFromGroup, ... ->
 *   Other). The class requires the changed `user`: from responseElements.user / .role (name, uid
 *   = arn, uid_alt = id), else requestParameters.userName / roleName, else (password changes)
 *   the caller. An event naming no user (e.g. a denied call without parameters) stays API
 *   Activity rather than becoming an Account Change about nobody.
 * - API Activity 6003: every other event; activity from the verb of eventName (Create/Run/...
 *   -> Create, Get/Describe/List/... -> Read, Update/Put/Modify/... -> Update, Delete/Remove/
 *   Terminate/... -> Delete; an unknown verb is Read when readOnly is true, else Other).
 *
 * Field by field (all classes): eventID -> metadata.uid (the record id when absent); eventTime ->
 * time (ms; a record without a valid eventTime is rejected); eventVersion ->
 * metadata.product.version; eventType -> metadata.event_code; eventCategory ->
 * metadata.product.feature.name (default "Management, Data, and Insights"); awsRegion ->
 * cloud.region; recipientAccountId -> cloud.account.uid (else the account of the object key when
 * it follows CloudTrail's layout); userIdentity -> actor.user {type, uid = arn, uid_alt =
 * principalId, name = userName, credential_uid = accessKeyId, account.uid = accountId},
 * actor.session {created_time, is_mfa, issuer = sessionIssuer.arn}, actor.invoked_by,
 * actor.idp.name; eventName/eventSource/apiVersion -> api.operation/service.name/version;
 * requestID + requestParameters -> api.request {uid, data (JSON text)}; responseElements,
 * errorCode, errorMessage -> api.response {data (JSON text), error, message}; errorCode also
 * makes status Failure (status_code = errorCode, status_detail = errorMessage), as does a
 * sign-in response of "Failure"; sourceIPAddress -> src_endpoint.ip when it is an address, else
 * src_endpoint.domain and .svc_name (an AWS service name, "AWS Internal"; the
 * endpoint needs one of ip, svc_name, ...); vpcEndpointId -> src_endpoint.uid;
 * userAgent -> http_request.user_agent; resources[] -> resources[] {uid = ARN (or ARNPrefix),
 * type, owner.account.uid = accountId}. Authentication adds user (the principal that signed in:
 * uid = arn, uid_alt = principalId; for federation the role: uid = roleArn, name =
 * roleSessionName), is_mfa (additionalEventData.MFAUsed), dst_endpoint.svc_name
 * (additionalEventData.LoginTo; else `service.name` = eventSource, the class needs one of the
 * two). Account Change adds user and, for policy changes, policy {uid = policyArn, name}.
 *
 * Everything else non-null goes to `unmapped` as Security Lake writes it: flat dotted keys
 * (`userIdentity.sessionContext.sessionIssuer.type`, `additionalEventData.MobileVersion`,
 * `tlsDetails.tlsVersion`) with string values (booleans and numbers as text, arrays as JSON
 * text); empty objects are dropped.
 *
 * Documented gaps (`acceptedGaps`): API Activity requires `actor` and `src_endpoint`; an event
 * without any identity (CloudTrail Insights events, some service events) or without
 * sourceIPAddress/vpcEndpointId is emitted without them rather than with invented values.
 *
 * Deliberate differences from Security Lake's samples: cloud.account.uid is set (Security Lake
 * leaves recipientAccountId in `unmapped`; the security-lake layout partitions by it), status_id
 * accompanies status, session.created_time accompanies its `_dt` twin, `_dt` values are UTC
 * (`Z`), and api.request is absent when the event has no requestID (the sample writes the
 * placeholder `''` for the required request.uid).
 */
import { isIP } from 'node:net';
import type { SluiceRecord } from '../../core/record.js';
import { MappingFailure, OCSF_REJECT_CODES, type OcsfEvent, type OcsfMapping, type OcsfMappingOptions } from './mapping.js';

const SUPPORTED_VERSIONS = ['1.1.0'] as const;
const DEFAULT_FEATURE = 'Management, Data, and Insights';

interface ClassInfo {
  readonly uid: number;
  readonly name: string;
  readonly categoryUid: number;
  readonly categoryName: string;
}

const API_ACTIVITY: ClassInfo = { uid: 6003, name: 'API Activity', categoryUid: 6, categoryName: 'Application Activity' };
const AUTHENTICATION: ClassInfo = { uid: 3002, name: 'Authentication', categoryUid: 3, categoryName: 'Identity & Access Management' };
const ACCOUNT_CHANGE: ClassInfo = { uid: 3001, name: 'Account Change', categoryUid: 3, categoryName: 'Identity & Access Management' };

/** Activity ids and captions of the three classes (OCSF 1.1.0). */
const API_ACTIVITIES: Readonly<Record<number, string>> = { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' };
const AUTH_ACTIVITIES: Readonly<Record<number, string>> = { 1: 'Logon', 99: 'Other' };
const ACCOUNT_ACTIVITIES: Readonly<Record<number, string>> = {
  1: 'Create', 3: 'Password Change', 6: 'Delete', 7: 'Attach Policy', 8: 'Detach Policy', 10: 'MFA Factor Enable', 11: 'MFA Factor Disable', 99: 'Other',
};

/** `eventSource/eventName` -> Authentication activity id. */
const AUTHENTICATION_EVENTS: ReadonlyMap<string, number> = new Map([
  ['signin.amazonaws.com/ConsoleLogin', 1],
  ['signin.amazonaws.com/SwitchRole', 1],
  ['signin.amazonaws.com/ExternalIdPDirectoryLogin', 1],
  ['signin.amazonaws.com/UserAuthentication', 1],
  ['signin.amazonaws.com/CheckMfa', 99],
  ['signin.amazonaws.com/CredentialChallenge', 99],
  ['signin.amazonaws.com/CredentialVerification', 99],
  ['sts.amazonaws.com/AssumeRoleWithSAML', 1],
  ['sts.amazonaws.com/AssumeRoleWithWebIdentity', 1],
]);

/** Federation calls -> auth_protocol_id (OCSF: 4 OpenID, 5 SAML). */
const AUTH_PROTOCOLS: ReadonlyMap<string, readonly [number, string]> = new Map([
  ['AssumeRoleWithSAML', [5, 'SAML'] as const],
  ['AssumeRoleWithWebIdentity', [4, 'OpenID'] as const],
]);

/** `eventSource/eventName` -> Account Change activity id. */
const ACCOUNT_CHANGE_EVENTS: ReadonlyMap<string, number> = new Map([
  ...(
    [
      ['CreateUser', 1], ['CreateRole', 1],
      ['DeleteUser', 6], ['DeleteRole', 6],
      ['AttachUserPolicy', 7], ['AttachRolePolicy', 7], ['PutUserPolicy', 7], ['PutRolePolicy', 7],
      ['DetachUserPolicy', 8], ['DetachRolePolicy', 8], ['DeleteUserPolicy', 8], ['DeleteRolePolicy', 8],
      ['ChangePassword', 3], ['UpdateLoginProfile', 3],
      ['EnableMFADevice', 10], ['DeactivateMFADevice', 11],
      ['UpdateUser', 99], ['UpdateRole', 99], ['UpdateAssumeRolePolicy', 99], ['AddUserToGroup', 99], ['RemoveUserFromGroup', 99],
      ['PutUserPermissionsBoundary', 99], ['PutRolePermissionsBoundary', 99], ['DeleteUserPermissionsBoundary', 99], ['DeleteRolePermissionsBoundary', 99],
    ] as const
  ).map(([name, id]) => [`iam.amazonaws.com/${name}`, id] as [string, number]),
  ['signin.amazonaws.com/PasswordUpdated', 3],
]);

/** Account changes whose `user` is the caller (a principal changing its own password). */
const SELF_CHANGES: ReadonlySet<string> = new Set(['ChangePassword', 'PasswordUpdated']);

/** Leading verbs of API names -> API Activity id. */
const VERB_ACTIVITIES: ReadonlyMap<string, number> = new Map([
  ...['Create', 'Run', 'Allocate', 'Import', 'Issue', 'Launch', 'Copy', 'Register'].map((v) => [v, 1] as [string, number]),
  ...['Get', 'Describe', 'List', 'Head', 'Lookup', 'Search', 'Query', 'Scan', 'Select', 'View', 'Download', 'Preview'].map((v) => [v, 2] as [string, number]),
  ...['Update', 'Put', 'Modify', 'Set', 'Change', 'Attach', 'Detach', 'Associate', 'Disassociate', 'Enable', 'Disable', 'Tag', 'Untag', 'Reset', 'Replace', 'Add', 'Authorize', 'Start', 'Stop', 'Reboot', 'Restore', 'Rotate', 'Apply', 'Edit']
    .map((v) => [v, 3] as [string, number]),
  ...['Delete', 'Remove', 'Terminate', 'Deregister', 'Release', 'Revoke', 'Purge', 'Destroy'].map((v) => [v, 4] as [string, number]),
]);

/**
 * Paths whose value has an OCSF home (never copied to `unmapped`). A path listed here covers
 * everything below it (requestParameters is mapped whole, as JSON text).
 */
const MAPPED_PATHS: ReadonlySet<string> = new Set([
  'eventVersion', 'eventTime', 'eventSource', 'eventName', 'awsRegion', 'sourceIPAddress', 'userAgent', 'requestParameters',
  'responseElements', 'requestID', 'eventID', 'eventType', 'recipientAccountId', 'eventCategory', 'errorCode', 'errorMessage',
  'resources', 'apiVersion', 'vpcEndpointId',
  'userIdentity.type', 'userIdentity.principalId', 'userIdentity.arn', 'userIdentity.accountId', 'userIdentity.accessKeyId',
  'userIdentity.userName', 'userIdentity.invokedBy', 'userIdentity.identityProvider',
  'userIdentity.sessionContext.attributes.creationDate', 'userIdentity.sessionContext.attributes.mfaAuthenticated',
  'userIdentity.sessionContext.sessionIssuer.arn', 'userIdentity.sessionContext.webIdFederationData.federatedProvider',
]);
/** Mapped only in Authentication events. */
const AUTHENTICATION_PATHS: ReadonlySet<string> = new Set(['additionalEventData.LoginTo', 'additionalEventData.MFAUsed']);

/** `AWSLogs/[o-org/]<account>/CloudTrail[-Insight]/<region>/` in an object key. */
const KEY_LOCATION = /AWSLogs\/(?:o-[a-z0-9]+\/)?(\d{12})\/CloudTrail(?:-Insight)?\/([a-z]{2}(?:-[a-z]+)+-\d)\//;

type Json = Record<string, unknown>;

function objectAt(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** A non-empty string (numbers as text); CloudTrail writes "" for absent access keys. */
function textAt(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return undefined;
}

function booleanAt(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return undefined;
  const lower = value.toLowerCase();
  if (lower === 'true' || lower === 'yes') return true;
  if (lower === 'false' || lower === 'no') return false;
  return undefined;
}

/** JSON text of a request/response part (Security Lake's representation of json_t here). */
function jsonText(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : JSON.stringify(value);
}

/** Drops undefined members; undefined when nothing is left. */
function compact<T extends Json>(object: T): T | undefined {
  let any = false;
  for (const key of Object.keys(object)) {
    if (object[key] === undefined) delete object[key];
    else any = true;
  }
  return any ? object : undefined;
}

/** The API Activity id of an operation name, from its leading verb. */
export function apiActivityOf(eventName: string, readOnly: unknown): number {
  let end = 1;
  while (end < eventName.length && !/[A-Z0-9]/.test(eventName[end]!)) end++;
  let verb = VERB_ACTIVITIES.get(eventName.slice(0, end));
  if (verb === undefined && eventName.startsWith('BatchGet')) verb = 2;
  if (verb !== undefined) return verb;
  return readOnly === true || readOnly === 'true' ? 2 : 99;
}

/** Which class and activity an event gets (before the target user is known). */
export function classifyCloudtrailEvent(fields: Json): { classUid: number; activityId: number } {
  const source = typeof fields.eventSource === 'string' ? fields.eventSource : '';
  const name = typeof fields.eventName === 'string' ? fields.eventName : '';
  const key = `${source}/${name}`;
  const auth = AUTHENTICATION_EVENTS.get(key);
  if (auth !== undefined) return { classUid: AUTHENTICATION.uid, activityId: auth };
  const change = ACCOUNT_CHANGE_EVENTS.get(key);
  if (change !== undefined) return { classUid: ACCOUNT_CHANGE.uid, activityId: change };
  if (name === '') return { classUid: API_ACTIVITY.uid, activityId: 0 };
  return { classUid: API_ACTIVITY.uid, activityId: apiActivityOf(name, fields.readOnly) };
}

/** Flattens what has no OCSF home into Security Lake's `unmapped` shape. */
function collectUnmapped(fields: Json, extraMapped: ReadonlySet<string> | undefined, out: Record<string, string>, prefix: string): void {
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value === null || value === undefined) continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (MAPPED_PATHS.has(path) || extraMapped?.has(path)) continue;
    if (Array.isArray(value)) out[path] = JSON.stringify(value);
    else if (typeof value === 'object') collectUnmapped(value as Json, extraMapped, out, path);
    else out[path] = String(value);
  }
}

interface Observable {
  name: string;
  type: string;
  type_id: number;
  value: string;
}

function userNameObservable(name: string, value: string): Observable {
  return { name, type: 'User Name', type_id: 4, value };
}

/**
 * Creates the mapping.
 *
 * @example
 * const mapping = createCloudtrailMapping({ version: '1.1.0', observables: true, datetime: true });
 * const event = mapping.map(record); // an OCSF event of class 6003, 3002 or 3001, or a MappingFailure
 */
export function createCloudtrailMapping(options: OcsfMappingOptions): OcsfMapping {
  const version = options.version;
  const withObservables = options.observables;
  const withDatetime = options.datetime;
  const profiles = Object.freeze(withDatetime ? ['cloud', 'datetime'] : ['cloud']);
  const iso = (ms: number): string | undefined => (withDatetime ? new Date(ms).toISOString() : undefined);

  function map(record: SluiceRecord): OcsfEvent | MappingFailure {
    const fields = record.fields;
    const time = record.time ?? (typeof fields.eventTime === 'string' ? Date.parse(fields.eventTime) : NaN);
    if (!Number.isFinite(time)) {
      return new MappingFailure(OCSF_REJECT_CODES.missingRequired, `no valid eventTime (${JSON.stringify(fields.eventTime)}): OCSF requires time`);
    }
    const insight = objectAt(fields.insightDetails);
    const operation = textAt(fields.eventName) ?? textAt(insight?.eventName);
    if (operation === undefined) {
      return new MappingFailure(OCSF_REJECT_CODES.missingRequired, 'no eventName: not an API call CloudTrail recorded (OCSF requires api.operation)');
    }
    const identity = objectAt(fields.userIdentity);
    let { classUid, activityId } = classifyCloudtrailEvent(fields);
    const request = objectAt(fields.requestParameters);
    const response = objectAt(fields.responseElements);

    // The principal the event is about (Authentication, Account Change); without one, API Activity.
    let user: Json | undefined;
    if (classUid === AUTHENTICATION.uid) user = signedInUser(operation, identity, request, fields);
    else if (classUid === ACCOUNT_CHANGE.uid) user = changedUser(operation, identity, request, response);
    if (classUid !== API_ACTIVITY.uid && user === undefined) {
      classUid = API_ACTIVITY.uid;
      activityId = apiActivityOf(operation, fields.readOnly);
    }
    const cls = classUid === AUTHENTICATION.uid ? AUTHENTICATION : classUid === ACCOUNT_CHANGE.uid ? ACCOUNT_CHANGE : API_ACTIVITY;
    const captions = classUid === AUTHENTICATION.uid ? AUTH_ACTIVITIES : classUid === ACCOUNT_CHANGE.uid ? ACCOUNT_ACTIVITIES : API_ACTIVITIES;
    const activityName = captions[activityId]!;

    const errorCode = textAt(fields.errorCode);
    const errorMessage = textAt(fields.errorMessage);
    const signInResult = classUid === AUTHENTICATION.uid ? textAt(response?.[operation]) : undefined;
    const failed = errorCode !== undefined || signInResult?.toLowerCase() === 'failure';

    const actor = actorOf(identity, iso);
    const srcEndpoint = sourceEndpointOf(fields);
    const requestId = textAt(fields.requestID);
    const api = compact({
      operation,
      request: requestId === undefined ? undefined : compact({ uid: requestId, data: jsonText(fields.requestParameters) }),
      response: compact({ data: jsonText(fields.responseElements), error: errorCode, message: errorMessage }),
      service: compact({ name: textAt(fields.eventSource) ?? textAt(insight?.eventSource) }),
      version: textAt(fields.apiVersion),
    })!;
    const additional = objectAt(fields.additionalEventData);
    const unmapped: Record<string, string> = {};
    collectUnmapped(fields, classUid === AUTHENTICATION.uid ? AUTHENTICATION_PATHS : undefined, unmapped, '');
    // Without a requestID there is no api.request to hold the parameters.
    if (requestId === undefined && fields.requestParameters !== null && fields.requestParameters !== undefined) {
      unmapped.requestParameters = JSON.stringify(fields.requestParameters);
    }
    const location = locationOf(fields, record.origin.object);
    const resources = resourcesOf(fields.resources, unmapped);

    const event: OcsfEvent = {
      activity_id: activityId,
      activity_name: activityName,
      actor,
      api,
      category_name: cls.categoryName,
      category_uid: cls.categoryUid,
      class_name: cls.name,
      class_uid: cls.uid,
      cloud: compact({ account: location.account === undefined ? undefined : { uid: location.account }, provider: 'AWS', region: location.region }),
      http_request: compact({ user_agent: textAt(fields.userAgent) }),
      metadata: compact({
        event_code: textAt(fields.eventType),
        product: compact({
          feature: { name: textAt(fields.eventCategory) ?? DEFAULT_FEATURE },
          name: 'CloudTrail',
          vendor_name: 'AWS',
          version: textAt(fields.eventVersion),
        }),
        profiles,
        uid: textAt(fields.eventID) ?? record.id,
        version,
      }),
      resources,
      severity: 'Informational',
      severity_id: 1,
      src_endpoint: srcEndpoint,
      status: failed ? 'Failure' : 'Success',
      status_code: errorCode,
      status_detail: errorMessage,
      status_id: failed ? 2 : 1,
      time,
      time_dt: iso(time),
      type_name: `${cls.name}: ${activityName}`,
      type_uid: cls.uid * 100 + activityId,
      unmapped: compact(unmapped),
    };
    if (classUid === AUTHENTICATION.uid) {
      const loginTo = textAt(additional?.LoginTo);
      event.user = user;
      event.is_mfa = booleanAt(additional?.MFAUsed);
      event.dst_endpoint = loginTo === undefined ? undefined : { svc_name: loginTo };
      if (loginTo === undefined) event.service = { name: api.service?.name ?? operation };
      const protocol = AUTH_PROTOCOLS.get(operation);
      if (protocol) {
        event.auth_protocol_id = protocol[0];
        event.auth_protocol = protocol[1];
      }
    } else if (classUid === ACCOUNT_CHANGE.uid) {
      event.user = user;
      event.policy = policyOf(request);
    }
    if (withObservables) event.observables = observablesOf(event);
    return compact(event)!;
  }

  return {
    name: 'builtin:cloudtrail',
    classUids: [API_ACTIVITY.uid, AUTHENTICATION.uid, ACCOUNT_CHANGE.uid],
    versions: SUPPORTED_VERSIONS,
    map,
    acceptedGaps(event: OcsfEvent): readonly string[] | undefined {
      if (event.class_uid !== API_ACTIVITY.uid) return undefined;
      const gaps: string[] = [];
      if (event.actor === undefined) gaps.push('actor');
      if (event.src_endpoint === undefined) gaps.push('src_endpoint');
      return gaps.length === 0 ? undefined : gaps;
    },
  };
}

function actorOf(identity: Json | undefined, iso: (ms: number) => string | undefined): Json | undefined {
  if (identity === undefined) return undefined;
  const accountId = textAt(identity.accountId);
  const user = compact({
    account: accountId === undefined ? undefined : { uid: accountId },
    credential_uid: textAt(identity.accessKeyId),
    name: textAt(identity.userName),
    type: textAt(identity.type),
    uid: textAt(identity.arn),
    uid_alt: textAt(identity.principalId),
  });
  const context = objectAt(identity.sessionContext);
  const attributes = objectAt(context?.attributes);
  const created = typeof attributes?.creationDate === 'string' ? Date.parse(attributes.creationDate) : NaN;
  const session = compact({
    created_time: Number.isFinite(created) ? created : undefined,
    created_time_dt: Number.isFinite(created) ? iso(created) : undefined,
    is_mfa: booleanAt(attributes?.mfaAuthenticated),
    issuer: textAt(objectAt(context?.sessionIssuer)?.arn),
  });
  const idpName = textAt(objectAt(context?.webIdFederationData)?.federatedProvider) ?? textAt(identity.identityProvider);
  // user satisfies its at_least_one (account, name, uid) or is left out.
  const hasUser = user !== undefined && (user.account !== undefined || user.name !== undefined || user.uid !== undefined);
  return compact({
    idp: idpName === undefined ? undefined : { name: idpName },
    invoked_by: textAt(identity.invokedBy),
    session,
    user: hasUser ? user : undefined,
  });
}

function sourceEndpointOf(fields: Json): Json | undefined {
  const source = textAt(fields.sourceIPAddress);
  const isAddress = source !== undefined && source.length <= 40 && isIP(source) !== 0;
  // A name (an AWS service calling on a principal's behalf, "AWS Internal") is Security Lake's
  // domain; it is also the svc_name, which network_endpoint needs when there is no ip.
  return compact({
    domain: isAddress ? undefined : source,
    ip: isAddress ? source : undefined,
    svc_name: isAddress ? undefined : source,
    uid: textAt(fields.vpcEndpointId),
  });
}

/** The principal that signed in (Authentication's required `user`). */
function signedInUser(operation: string, identity: Json | undefined, request: Json | undefined, fields: Json): Json | undefined {
  if (AUTH_PROTOCOLS.has(operation)) {
    const federated = compact({ name: textAt(request?.roleSessionName), uid: textAt(request?.roleArn) });
    if (federated !== undefined) return federated;
  }
  const uid = textAt(identity?.arn);
  const uidAlt = textAt(identity?.principalId);
  if (uid !== undefined) return compact({ uid, uid_alt: uidAlt });
  // No ARN (a failed sign-in of an unknown name): the name, else the account signed in to.
  const name = textAt(identity?.userName);
  if (name !== undefined) return compact({ name, uid_alt: uidAlt });
  const account = textAt(identity?.accountId) ?? textAt(fields.recipientAccountId);
  return account === undefined ? undefined : compact({ account: { uid: account }, uid_alt: uidAlt });
}

/** The user or role an Account Change is about (the class's required `user`). */
function changedUser(operation: string, identity: Json | undefined, request: Json | undefined, response: Json | undefined): Json | undefined {
  const createdUser = objectAt(response?.user);
  if (createdUser) {
    const user = compact({ name: textAt(createdUser.userName), uid: textAt(createdUser.arn), uid_alt: textAt(createdUser.userId) });
    if (user) return user;
  }
  const createdRole = objectAt(response?.role);
  if (createdRole) {
    const role = compact({ name: textAt(createdRole.roleName), uid: textAt(createdRole.arn), uid_alt: textAt(createdRole.roleId) });
    if (role) return role;
  }
  const named = textAt(request?.userName) ?? textAt(request?.roleName);
  if (named !== undefined) return { name: named };
  if (SELF_CHANGES.has(operation) && identity !== undefined) {
    return compact({ name: textAt(identity.userName), uid: textAt(identity.arn), uid_alt: textAt(identity.principalId) });
  }
  return undefined;
}

function policyOf(request: Json | undefined): Json | undefined {
  const arn = textAt(request?.policyArn);
  const name = textAt(request?.policyName) ?? (arn === undefined ? undefined : arn.slice(arn.lastIndexOf('/') + 1));
  return arn === undefined && name === undefined ? undefined : compact({ name, uid: arn });
}

/** resources[] -> resource_details; entries without an ARN keep their place in `unmapped`. */
function resourcesOf(value: unknown, unmapped: Record<string, string>): Json[] | undefined {
  if (!Array.isArray(value)) {
    if (value !== undefined && value !== null) unmapped.resources = JSON.stringify(value);
    return undefined;
  }
  const out: Json[] = [];
  let dropped = false;
  for (const entry of value) {
    const resource = objectAt(entry);
    const uid = textAt(resource?.ARN) ?? textAt(resource?.ARNPrefix);
    if (resource === undefined || uid === undefined) {
      dropped = true;
      continue;
    }
    const account = textAt(resource.accountId);
    out.push(compact({ owner: account === undefined ? undefined : { account: { uid: account } }, type: textAt(resource.type), uid })!);
  }
  if (dropped) unmapped.resources = JSON.stringify(value);
  return out.length === 0 ? undefined : out;
}

function locationOf(fields: Json, object: string): { account: string | undefined; region: string | undefined } {
  let account = textAt(fields.recipientAccountId);
  let region = textAt(fields.awsRegion);
  if (account === undefined || region === undefined) {
    const match = KEY_LOCATION.exec(object);
    account ??= match?.[1];
    region ??= match?.[2];
  }
  return { account, region };
}

/** IP addresses, user names and resource ARNs, as Security Lake lists them. */
function observablesOf(event: OcsfEvent): Observable[] | undefined {
  const out: Observable[] = [];
  const ip = (event.src_endpoint as Json | undefined)?.ip;
  if (typeof ip === 'string') out.push({ name: 'src_endpoint.ip', type: 'IP Address', type_id: 2, value: ip });
  const actorName = ((event.actor as Json | undefined)?.user as Json | undefined)?.name;
  if (typeof actorName === 'string') out.push(userNameObservable('actor.user.name', actorName));
  const userName = (event.user as Json | undefined)?.name;
  if (typeof userName === 'string') out.push(userNameObservable('user.name', userName));
  for (const resource of (event.resources as Json[] | undefined) ?? []) {
    out.push({ name: 'resources.uid', type: 'Resource UID', type_id: 10, value: resource.uid as string });
  }
  return out.length === 0 ? undefined : out;
}

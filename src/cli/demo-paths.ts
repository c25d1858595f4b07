/** Where `sluice demo` leaves its ledger and lake: the defaults of `serve` and `query`. */
export const DEMO_STATE = 'sluice-demo/state.db';
export const DEMO_LAKE = 'sluice-demo/out';

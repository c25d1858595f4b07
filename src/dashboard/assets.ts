/**
 * The page's stylesheet and its one small script, served from memory at /assets/ (nothing from a
 * CDN, no build step, nothing to copy next to dist/). The script only swaps in server-rendered
 * HTML from the event stream, posts redrive forms with the CSRF token, and draws second-hop peers
 * in the graph; everything else is plain HTML that works without it.
 *
 * The script is kept free of template literals so it can sit in a String.raw literal here.
 */

export const STYLE_CSS = String.raw`
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --muted:#6b7383; --line:#e3e6eb; --accent:#2f6fde;
  --pending:#8a93a3; --leased:#2f6fde; --done:#1f9d55; --failed:#d98a00; --dead:#d64545; --hop:#8b5cf6; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink); font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
code, pre, .key { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
header.top { display:flex; align-items:center; gap:24px; padding:10px 24px; background:#161b26; color:#e8ebf1; position:sticky; top:0; z-index:5; }
.brand { font-weight:700; font-size:16px; letter-spacing:.3px; } .logo { color:#5b9bff; }
nav { display:flex; gap:4px; } nav a { color:#b9c1d0; text-decoration:none; padding:5px 10px; border-radius:6px; }
nav a:hover { background:#242b3a; color:#fff; } nav a.active { background:#2b3446; color:#fff; }
.where { display:flex; gap:14px; color:#8c96a8; font-size:12px; margin-left:auto; overflow:hidden; white-space:nowrap; }
.where code { color:#c8d0dd; }
.live { font-size:12px; padding:3px 10px; border-radius:999px; background:#3a2f1a; color:#f2c46d; }
.live.on { background:#173326; color:#6fe0a1; } .live.on::before { content:"● "; }
main { max-width:1280px; margin:0 auto; padding:20px 24px 60px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:18px 20px; margin-bottom:18px; box-shadow:0 1px 2px rgba(16,24,40,.04); }
.card-head { display:flex; align-items:center; justify-content:space-between; gap:16px; flex-wrap:wrap; }
h2 { margin:0; font-size:18px; } h3 { font-size:14px; margin:18px 0 8px; display:flex; align-items:center; gap:10px; }
.muted { color:var(--muted); font-weight:400; }
.pills { display:flex; gap:6px; flex-wrap:wrap; }
.pill { border:1px solid var(--line); border-radius:999px; padding:2px 10px; font-size:12.5px; color:var(--muted); }
.pill b { color:var(--ink); }
.pill.s-dead b { color:var(--dead); } .pill.s-failed b { color:var(--failed); } .pill.s-done b { color:var(--done); } .pill.s-leased b { color:var(--leased); }
.progress { display:flex; height:8px; border-radius:4px; overflow:hidden; background:#eef0f3; margin:14px 0; }
.seg.s-done { background:var(--done); } .seg.s-leased { background:var(--leased); } .seg.s-pending { background:#c9ced8; }
.seg.s-failed { background:var(--failed); } .seg.s-dead { background:var(--dead); }
.stats { display:grid; grid-template-columns:repeat(5,1fr); gap:12px; margin:6px 0 4px; }
.stats div { background:#f8f9fb; border:1px solid var(--line); border-radius:8px; padding:8px 12px; }
.stats b { display:block; font-size:18px; } .stats span { color:var(--muted); font-size:12px; }
.grid2 { display:grid; grid-template-columns: 1fr 1fr; gap:24px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; border-bottom:1px solid var(--line); padding:6px 8px; white-space:nowrap; }
td { border-bottom:1px solid #f0f2f5; padding:5px 8px; vertical-align:top; }
td.n, th.n { text-align:right; font-variant-numeric:tabular-nums; }
td.key span { font-family:ui-monospace,Menlo,Consolas,monospace; font-size:12px; }
tr[data-state="dead"] td { background:#fff6f6; } tr[data-state="failed"] td { background:#fffaf0; }
.err { color:var(--dead); font-size:12px; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:11.5px; font-weight:600; color:#fff; }
.badge.s-pending { background:var(--pending); } .badge.s-leased { background:var(--leased); } .badge.s-done { background:var(--done); }
.badge.s-failed { background:var(--failed); } .badge.s-dead { background:var(--dead); } .badge.s-superseded { background:#b4bac6; }
tr[data-state="superseded"] td { color:var(--muted); }
.problems { border:1px solid #f3c9c9; background:#fffafa; border-radius:10px; padding:4px 14px 10px; margin:14px 0; }
.problems h3 form { margin-left:auto; }
.problem { border-top:1px solid #f3dede; padding:10px 0; } .problem:first-of-type { border-top:0; }
.problem header { display:flex; gap:8px; align-items:center; } .problem .key { word-break:break-all; }
.problem dl { display:grid; grid-template-columns:auto 1fr; gap:2px 12px; margin:8px 0; font-size:12.5px; }
.problem dt { color:var(--muted); } .problem dd { margin:0; }
pre.error { background:#2a1f24; color:#ffd9d9; padding:10px 12px; border-radius:8px; white-space:pre-wrap; word-break:break-word; margin:6px 0 8px; }
button, .button { font:inherit; font-size:13px; background:var(--accent); color:#fff; border:0; border-radius:7px; padding:6px 14px; cursor:pointer; text-decoration:none; display:inline-block; }
button:hover, .button:hover { filter:brightness(1.08); } button[disabled] { opacity:.6; cursor:default; }
form.redrive { display:inline; } form.redrive button { background:var(--dead); }
.chart { width:100%; height:auto; display:block; background:#fbfcfd; border:1px solid var(--line); border-radius:8px; }
.chart .grid { stroke:#e7eaef; } .chart .axis { fill:var(--muted); font-size:11px; } .chart .muted { fill:var(--muted); font-size:13px; }
.chart .bar { fill:#cfe0fb; } .chart .bar.fan { fill:#7aa7f0; } .chart .line { fill:none; stroke:var(--accent); stroke-width:2; } .chart .dot { fill:var(--accent); }
.chart .legend-r { fill:var(--accent); font-weight:600; } .chart .legend-u { fill:#7b9ad0; font-weight:600; }
form.investigate { display:flex; gap:12px; align-items:flex-end; flex-wrap:wrap; margin-top:12px; }
form.investigate label { display:flex; flex-direction:column; gap:4px; font-size:12px; color:var(--muted); }
form.investigate input { font:inherit; padding:6px 8px; border:1px solid #cfd4dc; border-radius:7px; min-width:170px; color:var(--ink); }
form.investigate input[name=host] { min-width:280px; font-family:ui-monospace,Menlo,Consolas,monospace; }
.who { display:flex; gap:6px; flex-wrap:wrap; } .who code { background:#f1f3f6; padding:2px 6px; border-radius:5px; }
.error-msg { color:var(--dead); margin:0; }
.rej { color:var(--dead); font-weight:600; }
.graph-wrap { border:1px solid var(--line); border-radius:8px; background:#fbfcfd; }
svg.graph { width:100%; height:auto; max-height:600px; display:block; }
table.peers td, table.runs td, table.units td { white-space:nowrap; }
table.units td.key { white-space:normal; word-break:break-all; } table.units td:last-child { white-space:normal; min-width:260px; }
.table-wrap { overflow-x:auto; }
table.peers { font-size:12.5px; } table.peers td, table.peers th { padding:5px 6px; }
.graph .edge { stroke:#b9c6da; } .graph .edge.rejected { stroke:var(--dead); }
.graph .edge.hop { stroke:var(--hop); stroke-dasharray:4 3; opacity:.8; }
.graph .node circle { stroke:#fff; stroke-width:2; } .graph .node text { font-size:11px; fill:var(--ink); paint-order:stroke; stroke:#fbfcfd; stroke-width:3px; }
.graph .host circle { fill:#161b26; } .graph .host text { font-weight:700; font-size:12.5px; }
.graph .peer { cursor:pointer; } .graph .peer.internal circle { fill:var(--accent); } .graph .peer.external circle { fill:#9aa3b2; }
.graph .peer:hover circle, .graph .peer:focus circle, .graph .peer.expanded circle { stroke:var(--hop); stroke-width:3; }
.graph .hop circle { fill:var(--hop); } .graph .hop text { fill:#5b3aa8; font-size:10.5px; }
.legend { display:flex; gap:16px; padding:6px 12px; font-size:12px; color:var(--muted); border-top:1px solid var(--line); }
.legend span::before { content:""; display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:5px; vertical-align:-1px; }
.l-host::before { background:#161b26; } .l-int::before { background:var(--accent); } .l-ext::before { background:#9aa3b2; }
.l-hop::before { background:var(--hop); } .l-rej::before { background:var(--dead); border-radius:0 !important; height:3px !important; vertical-align:3px !important; }
#toast { position:fixed; right:20px; bottom:20px; background:#161b26; color:#fff; padding:10px 14px; border-radius:8px; opacity:0; transition:opacity .2s; pointer-events:none; }
#toast.show { opacity:.95; }
.empty p { color:var(--muted); }
@media (max-width: 900px) { .grid2 { grid-template-columns:1fr; } .stats { grid-template-columns:repeat(2,1fr); } .where { display:none; } }
`;

export const APP_JS = String.raw`
(function () {
  'use strict';
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  var toastTimer = 0;
  function toast(text) {
    var el = document.getElementById('toast');
    if (!el) return;
    el.textContent = text;
    el.className = 'show';
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.className = ''; }, 3500);
  }

  // Live runs: the server sends the re-rendered live region whenever the ledger changes.
  var live = document.getElementById('live');
  var status = document.getElementById('live-status');
  if (live && window.EventSource) {
    var source = new EventSource('/events');
    source.addEventListener('open', function () { status.textContent = 'live'; status.className = 'live on'; });
    source.addEventListener('error', function () { status.textContent = 'reconnecting…'; status.className = 'live off'; });
    source.addEventListener('snapshot', function (ev) {
      var msg = JSON.parse(ev.data);
      live.innerHTML = msg.html;
      live.setAttribute('data-version', String(msg.version));
      status.textContent = 'live'; status.className = 'live on';
    });
  }

  // Redrive: the form works without script (POST + redirect); with it, stay on the page.
  document.addEventListener('submit', function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains('redrive')) return;
    ev.preventDefault();
    var button = form.querySelector('button');
    if (button) button.disabled = true;
    fetch(form.action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept': 'application/json', 'X-CSRF-Token': csrf },
      body: new URLSearchParams(new FormData(form)).toString(),
      credentials: 'same-origin'
    }).then(function (res) {
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.error || res.statusText);
        toast('redriven ' + body.redriven + ' dead unit(s) of ' + body.pipeline);
      });
    }).catch(function (err) {
      toast('redrive failed: ' + err.message);
      if (button) button.disabled = false;
    });
  });

  // Second hop: clicking a peer draws the peers of that peer around it.
  var graph = document.getElementById('graph');
  if (graph) {
    var SVG = 'http://www.w3.org/2000/svg';
    var hop2 = document.getElementById('hop2');
    var params = new URLSearchParams(location.search);
    var host = graph.getAttribute('data-host');
    var firstHop = {};
    Array.prototype.forEach.call(graph.querySelectorAll('g.peer'), function (g) { firstHop[g.getAttribute('data-ip')] = g; });
    function make(tag, attrs, parent) {
      var el = document.createElementNS(SVG, tag);
      for (var k in attrs) el.setAttribute(k, attrs[k]);
      if (parent) parent.appendChild(el);
      return el;
    }
    function expand(node) {
      var ip = node.getAttribute('data-ip');
      var existing = hop2.querySelector('g[data-of="' + CSS.escape(ip) + '"]');
      if (existing) { existing.remove(); node.classList.remove('expanded'); return; }
      node.classList.add('expanded');
      var url = '/api/investigate?host=' + encodeURIComponent(ip) + '&from=' + encodeURIComponent(params.get('from') || '') + '&to=' + encodeURIComponent(params.get('to') || '');
      fetch(url, { headers: { Accept: 'application/json' }, credentials: 'same-origin' }).then(function (res) {
        return res.json().then(function (body) { if (!res.ok) throw new Error(body.error || res.statusText); return body; });
      }).then(function (body) {
        var group = make('g', { 'data-of': ip }, hop2);
        var x = Number(node.getAttribute('data-x')), y = Number(node.getAttribute('data-y'));
        var angle = Number(node.getAttribute('data-angle'));
        var others = body.peers.filter(function (p) { return p.ip !== host && body.query.host !== p.ip && !(host && p.ip === host); });
        var fresh = others.filter(function (p) { return !firstHop[p.ip]; }).slice(0, 8);
        others.forEach(function (p) {
          var known = firstHop[p.ip];
          if (!known || known === node) return;
          make('line', { 'class': 'edge hop', x1: x, y1: y, x2: known.getAttribute('data-x'), y2: known.getAttribute('data-y') }, group);
        });
        var box = graph.viewBox.baseVal, w = box.width, h = box.height;
        fresh.forEach(function (p, i) {
          var spread = fresh.length > 1 ? (i / (fresh.length - 1) - 0.5) * 2.4 : 0;
          var a = angle + spread;
          var r = i % 2 ? 125 : 75;
          var nx = Math.max(40, Math.min(w - 40, x + r * Math.cos(a)));
          var ny = Math.max(14, Math.min(h - 22, y + r * Math.sin(a)));
          make('line', { 'class': 'edge hop', x1: x, y1: y, x2: nx, y2: ny }, group);
          var g = make('g', { 'class': 'node hop', 'data-ip': p.ip }, group);
          make('circle', { cx: nx, cy: ny, r: 6 }, g);
          var t = make('text', { x: nx, y: ny + 17, 'text-anchor': 'middle' }, g);
          var label = p.name || p.ip;
          t.textContent = label.length > 16 ? label.slice(0, 15) + '…' : label;
          var title = make('title', {}, g);
          title.textContent = (p.name ? p.name + ' ' : '') + p.ip + ' — ' + p.flows + ' flows from ' + ip;
        });
        toast((node.querySelector('text') || {}).textContent + ' (' + ip + '): ' + body.peers.length + ' peers, ' + fresh.length + ' not seen from the host');
      }).catch(function (err) { toast('second hop failed: ' + err.message); node.classList.remove('expanded'); });
    }
    graph.addEventListener('click', function (ev) {
      var node = ev.target.closest && ev.target.closest('g.peer');
      if (node) expand(node);
    });
    graph.addEventListener('keydown', function (ev) {
      var node = ev.target.closest && ev.target.closest('g.peer');
      if (node && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); expand(node); }
    });
  }
})();
`;

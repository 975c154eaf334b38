// The dashboard page's HTML and CSS, shipped inside the package: no CDN, no font, no request
// to anywhere but this server (the Content-Security-Policy of routes.ts enforces it). The
// script is page-script.ts. URLs are relative, so the page also works under a path prefix
// behind a proxy (location /immortal/ → immortaldir.sock).
//
// Layout rules: a real <table> with fixed column widths (table-layout: fixed + colgroup) and
// tabular figures, so values ticking never move a column; on a narrow screen the table
// scrolls sideways inside its box with the name column held in place.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>immortaldir</title>
<link rel="stylesheet" href="dashboard.css">
<link rel="icon" href="data:,">
</head>
<body class="read-only">
<header>
  <h1>immortaldir <span id="dir" class="dir"></span></h1>
  <p class="summary"><span id="summary">connecting\u2026</span> <span id="connection" class="connection">offline</span></p>
  <form id="token-form" class="token" autocomplete="off">
    <label for="token">Token</label>
    <input id="token" type="password" placeholder="from --http-token-file" spellcheck="false">
    <button type="submit">Use</button>
  </form>
  <p id="message" class="message" role="status" aria-live="polite"></p>
</header>
<main>
<div class="table-wrap">
<table id="services">
  <colgroup>
    <col class="c-name"><col class="c-state"><col class="c-ready"><col class="c-health"><col class="c-pid">
    <col class="c-uptime"><col class="c-restarts"><col class="c-backoff"><col class="c-exit">
    <col class="c-memory"><col class="c-cpu"><col class="c-actions">
  </colgroup>
  <thead>
    <tr>
      <th scope="col">Name</th><th scope="col">State</th><th scope="col">Ready</th><th scope="col">Health</th>
      <th scope="col" class="num">PID</th><th scope="col" class="num">Uptime</th><th scope="col" class="num">Restarts</th>
      <th scope="col" class="num">Backoff</th><th scope="col">Last exit</th><th scope="col" class="num">Memory</th>
      <th scope="col" class="num">CPU</th><th scope="col" class="actions">Actions</th>
    </tr>
  </thead>
  <tbody id="rows"></tbody>
</table>
</div>
<section id="log" class="log" hidden>
  <h2><span id="log-title"></span> <button id="log-refresh" type="button">Refresh</button> <button id="log-close" type="button">Close</button></h2>
  <pre id="log-text"></pre>
</section>
</main>
<script src="dashboard.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --head: #f6f8fa; --hover: #f0f3f6;
  --up: #1a7f37; --down: #59636e; --bad: #cf222e; --warn: #9a6700; --wait: #0969da;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --head: #151b23; --hover: #1c2129;
    --up: #3fb950; --down: #9198a1; --bad: #f85149; --warn: #d29922; --wait: #4493f8;
  }
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; padding: 12px; background: var(--bg); color: var(--fg);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 16px; margin-bottom: 10px; }
h1 { font-size: 18px; margin: 0; }
h1 .dir { font-weight: normal; color: var(--muted); font-size: 14px; overflow-wrap: anywhere; }
.summary { margin: 0; color: var(--muted); font-variant-numeric: tabular-nums; }
.connection { display: inline-block; min-width: 7em; padding: 0 6px; border-radius: 8px; font-size: 12px; border: 1px solid var(--line); }
.connection.live { color: var(--up); border-color: var(--up); }
.connection.lost { color: var(--bad); border-color: var(--bad); }
.token { display: none; gap: 6px; align-items: center; margin: 0; }
body.can-act .token { display: flex; }
.token input { width: 14em; max-width: 50vw; font: inherit; padding: 2px 6px; }
.message { flex-basis: 100%; margin: 0; min-height: 1.4em; color: var(--muted); }
.message.error { color: var(--bad); }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: separate; border-spacing: 0; table-layout: fixed; width: 100%; min-width: 1400px; }
col.c-name { width: 180px; } col.c-state { width: 118px; } col.c-ready { width: 72px; } col.c-health { width: 76px; }
col.c-pid { width: 80px; } col.c-uptime { width: 92px; } col.c-restarts { width: 88px; } col.c-backoff { width: 82px; }
col.c-exit { width: 130px; } col.c-memory { width: 90px; } col.c-cpu { width: 72px; } col.c-actions { width: 300px; }
body.read-only table { min-width: 1100px; }
body.read-only col.c-actions { width: 0; }
body.read-only .actions { display: none; }
th, td { padding: 6px 8px; line-height: 22px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
thead th { background: var(--head); font-weight: 600; }
tbody th { font-weight: 600; }
tr > :first-child { position: sticky; left: 0; background: var(--bg); z-index: 1; border-right: 1px solid var(--line); }
thead tr > :first-child { background: var(--head); z-index: 2; }
tbody tr:hover > * { background: var(--hover); }
tbody tr:last-child > * { border-bottom: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td { font-variant-numeric: tabular-nums; }
.state { display: inline-block; vertical-align: top; margin-top: 1px; line-height: 18px; padding: 0 8px; border-radius: 10px; border: 1px solid currentColor; font-size: 12px; font-weight: 600; }
.state::before { content: "\u25cf "; }
.s-up { color: var(--up); }
.s-down, .s-exited { color: var(--down); }
.s-error { color: var(--bad); }
.s-restarting, .s-backoff { color: var(--warn); }
.s-starting, .s-waiting, .s-stopping { color: var(--wait); }
.empty { text-align: center; color: var(--muted); padding: 24px 8px; white-space: normal; }
tr > td.empty:first-child { position: static; border-right: 0; }
.has-problem { cursor: help; }
.has-problem::after { content: " !"; color: var(--bad); }
.actions button, .actions select { font: inherit; font-size: 12px; padding: 1px 6px; margin-right: 2px; }
.actions button[hidden] { display: none; }
.log { margin-top: 12px; border: 1px solid var(--line); border-radius: 6px; }
.log h2 { font-size: 14px; margin: 0; padding: 6px 8px; background: var(--head); border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.log pre { margin: 0; padding: 8px; max-height: 50vh; overflow: auto; font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
@media (max-width: 600px) {
  body { padding: 8px; font-size: 13px; }
  th, td { padding: 5px 6px; }
  col.c-name { width: 120px; }
  .token input { width: 10em; }
}
`;

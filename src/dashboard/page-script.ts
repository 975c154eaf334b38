// The dashboard page's script, served as /dashboard.js (a file, not inline, so the page's
// Content-Security-Policy can forbid inline script). Plain ES2017, no library, no build step.
// It keeps one <tr> per service, keyed by name, and rewrites a cell only when its text
// changes; uptime is counted here from the record's `since`, so the server sends nothing for
// a service that merely keeps running. A field the record lacks (ready, health, memory, cpu
// before the issues that add them) shows "–".

export const PAGE_SCRIPT = String.raw`'use strict';
(function () {
  var DASH = '\u2013';
  var TOKEN_KEY = 'immortaldir-token';
  var rowsBody = document.getElementById('rows');
  var rows = new Map();
  var records = new Map();
  var clockOffset = 0;
  var canAct = false;
  var dir = '';
  var logName = null;

  var COLUMNS = [
    { key: 'name', cls: '', text: function (r) { return r.name; } },
    { key: 'state', cls: '', text: function (r) { return r.state; } },
    { key: 'ready', cls: '', text: function (r) { return r.ready === undefined || r.ready === null ? DASH : (r.ready ? 'yes' : 'no'); } },
    { key: 'health', cls: '', text: function (r) { return r.health === undefined || r.health === null ? DASH : String(typeof r.health === 'object' ? (r.health.state || r.health.status || DASH) : r.health); } },
    { key: 'pid', cls: 'num', text: function (r) { return r.pid > 0 ? String(r.pid) : DASH; } },
    { key: 'uptime', cls: 'num', text: uptimeText },
    { key: 'restarts', cls: 'num', text: function (r) { return String(Math.max(0, (r.count || 0) - 1)); } },
    { key: 'backoff', cls: 'num', text: function (r) { return r.backoff > 0 ? seconds(r.backoff) : '0s'; } },
    { key: 'lastExit', cls: '', text: function (r) { return r.lastExit ? r.lastExit.text : DASH; } },
    { key: 'memory', cls: 'num', text: function (r) { return typeof r.memory === 'number' ? bytes(r.memory) : DASH; } },
    { key: 'cpu', cls: 'num', text: function (r) { return typeof r.cpu === 'number' ? r.cpu.toFixed(1) + 's' : DASH; } },
  ];

  function serverNow() { return Date.now() + clockOffset; }

  function uptimeText(r) {
    if (r.state !== 'up' || !r.since) return DASH;
    return seconds(Math.max(0, (serverNow() - r.since) / 1000));
  }

  function seconds(total) {
    var s = Math.floor(total);
    if (s < 60) return (total < 10 && total % 1 ? total.toFixed(1) : s) + 's';
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + pad(m) + 'm';
    return m + 'm ' + pad(s % 60) + 's';
  }
  function pad(n) { return n < 10 ? '0' + n : String(n); }
  function bytes(n) {
    if (n < 1024 * 1024) return (n / 1024).toFixed(0) + ' KiB';
    if (n < 1024 * 1024 * 1024) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }

  function problemOf(r) {
    return r.error || r.startError || (r.logError ? 'log: ' + r.logError : '') || '';
  }

  function makeRow(name) {
    var tr = document.createElement('tr');
    tr.dataset.name = name;
    COLUMNS.forEach(function (col) {
      var td = document.createElement(col.key === 'name' ? 'th' : 'td');
      if (col.key === 'name') td.scope = 'row';
      td.className = col.cls;
      td.dataset.col = col.key;
      if (col.key === 'state') {
        var pill = document.createElement('span');
        pill.className = 'state';
        td.appendChild(pill);
      }
      tr.appendChild(td);
    });
    var actions = document.createElement('td');
    actions.className = 'actions';
    ['start', 'stop', 'restart'].forEach(function (action) {
      var b = document.createElement('button');
      b.type = 'button';
      b.textContent = action;
      b.dataset.action = action;
      actions.appendChild(b);
    });
    var select = document.createElement('select');
    select.setAttribute('aria-label', 'send a signal');
    ['signal\u2026', 'HUP', 'USR1', 'USR2', 'INT', 'QUIT', 'TERM', 'KILL', 'CONT', 'STOP'].forEach(function (sig, i) {
      var o = document.createElement('option');
      o.value = i === 0 ? '' : sig;
      o.textContent = sig;
      select.appendChild(o);
    });
    actions.appendChild(select);
    var log = document.createElement('button');
    log.type = 'button';
    log.textContent = 'log';
    log.dataset.log = '1';
    actions.appendChild(log);
    tr.appendChild(actions);
    return tr;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function paint(tr, r) {
    var cells = tr.children;
    COLUMNS.forEach(function (col, i) {
      var cell = cells[i];
      var text = col.text(r);
      if (col.key === 'state') {
        var pill = cell.firstChild;
        setText(pill, r.state);
        var cls = 'state s-' + r.state;
        if (pill.className !== cls) pill.className = cls;
        var title = [r.note, problemOf(r)].filter(Boolean).join('; ');
        if (cell.title !== title) cell.title = title;
      } else if (col.key === 'name') {
        setText(cell, text);
        var problem = problemOf(r);
        if (cell.title !== problem) cell.title = problem;
        cell.classList.toggle('has-problem', problem !== '');
      } else {
        setText(cell, text);
        if (col.key === 'lastExit') {
          var when = r.lastExit ? new Date(r.lastExit.at).toLocaleString() : '';
          if (cell.title !== when) cell.title = when;
        }
      }
    });
    var logButton = tr.querySelector('button[data-log]');
    logButton.hidden = !r.logFile;
  }

  function upsert(r) {
    records.set(r.name, r);
    var tr = rows.get(r.name);
    if (!tr) {
      tr = makeRow(r.name);
      rows.set(r.name, tr);
      var next = null;
      for (var i = 0; i < rowsBody.children.length; i++) {
        var other = rowsBody.children[i].dataset.name;
        if (other !== undefined && other > r.name) { next = rowsBody.children[i]; break; }
      }
      rowsBody.insertBefore(tr, next);
    }
    paint(tr, r);
  }

  function remove(name) {
    var tr = rows.get(name);
    if (tr) tr.remove();
    rows.delete(name);
    records.delete(name);
  }

  function refreshChrome() {
    var empty = document.getElementById('empty-row');
    if (records.size === 0 && !empty) {
      empty = document.createElement('tr');
      empty.id = 'empty-row';
      var td = document.createElement('td');
      td.colSpan = 12;
      td.className = 'empty';
      empty.appendChild(td);
      rowsBody.appendChild(empty);
    } else if (records.size > 0 && empty) {
      empty.remove();
    }
    if (records.size === 0) setText(empty.firstChild, 'No services. Put a *.yml file in ' + (dir || 'the directory') + ' and it shows here.');
    var counts = { up: 0, down: 0, other: 0 };
    records.forEach(function (r) {
      if (r.state === 'up') counts.up++;
      else if (r.state === 'down' || r.state === 'exited') counts.down++;
      else counts.other++;
    });
    setText(document.getElementById('summary'),
      records.size + (records.size === 1 ? ' service' : ' services') + ' \u00b7 ' + counts.up + ' up \u00b7 ' + counts.down + ' down' +
      (counts.other ? ' \u00b7 ' + counts.other + ' other' : ''));
    setText(document.getElementById('dir'), dir);
    document.body.classList.toggle('read-only', !canAct);
    document.body.classList.toggle('can-act', canAct);
  }

  function onSnapshot(data) {
    clockOffset = data.now - Date.now();
    canAct = !!data.actions;
    dir = data.dir || '';
    var present = new Set(data.services.map(function (r) { return r.name; }));
    Array.from(rows.keys()).forEach(function (name) { if (!present.has(name)) remove(name); });
    data.services.forEach(upsert);
    refreshChrome();
  }

  function onChange(data) {
    clockOffset = data.now - Date.now();
    data.remove.forEach(remove);
    data.upsert.forEach(upsert);
    refreshChrome();
  }

  function tickUptimes() {
    records.forEach(function (r, name) {
      if (r.state !== 'up') return;
      var cell = rows.get(name).querySelector('[data-col="uptime"]');
      setText(cell, uptimeText(r));
    });
  }

  function connect() {
    var connection = document.getElementById('connection');
    var source = new EventSource('events');
    source.addEventListener('open', function () { connection.textContent = 'live'; connection.className = 'connection live'; });
    source.addEventListener('error', function () { connection.textContent = 'reconnecting\u2026'; connection.className = 'connection lost'; });
    source.addEventListener('snapshot', function (e) { onSnapshot(JSON.parse(e.data)); });
    source.addEventListener('change', function (e) { onChange(JSON.parse(e.data)); });
  }

  function say(text, isError) {
    var el = document.getElementById('message');
    el.textContent = text;
    el.className = isError ? 'message error' : 'message';
  }

  var tokenInTab = '';
  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || tokenInTab; } catch (e) { return tokenInTab; }
  }

  function request(method, path) {
    return fetch(path, { method: method, headers: { 'X-Immortal-Token': token() }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        return res.json().catch(function () { return { Err: 'HTTP ' + res.status }; }).then(function (body) {
          return { status: res.status, body: body };
        });
      });
  }

  function act(name, action) {
    say(action + ' ' + name + '\u2026', false);
    request('POST', 'api/services/' + encodeURIComponent(name) + '/' + encodeURIComponent(action)).then(function (reply) {
      var err = reply.body && reply.body.Err;
      if (reply.status === 200 && !err) say(action + ' ' + name + ': done', false);
      else say(action + ' ' + name + ': ' + (err || 'HTTP ' + reply.status), true);
    }, function (e) { say(action + ' ' + name + ': ' + e.message, true); });
  }

  function showLog(name) {
    logName = name;
    var section = document.getElementById('log');
    section.hidden = false;
    setText(document.getElementById('log-title'), 'Log of ' + name);
    var pre = document.getElementById('log-text');
    pre.textContent = 'loading\u2026';
    request('GET', 'api/services/' + encodeURIComponent(name) + '/log?lines=200').then(function (reply) {
      if (reply.status === 200) {
        setText(document.getElementById('log-title'), 'Log of ' + name + ' (' + reply.body.file + ', last 200 lines)');
        pre.textContent = reply.body.text || '(empty)';
        pre.scrollTop = pre.scrollHeight;
      } else {
        pre.textContent = reply.body.Err || ('HTTP ' + reply.status);
      }
    }, function (e) { pre.textContent = e.message; });
  }

  rowsBody.addEventListener('click', function (e) {
    var button = e.target.closest('button');
    if (!button) {
      // No hover on a phone: a tap on a name says what is wrong with it.
      var cell = e.target.closest('th.has-problem');
      if (cell) say(cell.closest('tr').dataset.name + ': ' + cell.title, true);
      return;
    }
    var name = button.closest('tr').dataset.name;
    if (button.dataset.log) showLog(name);
    else if (button.dataset.action) act(name, button.dataset.action);
  });
  rowsBody.addEventListener('change', function (e) {
    var select = e.target;
    if (select.tagName !== 'SELECT' || !select.value) return;
    act(select.closest('tr').dataset.name, select.value);
    select.value = '';
  });
  document.getElementById('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var input = document.getElementById('token');
    tokenInTab = input.value.trim();
    try { sessionStorage.setItem(TOKEN_KEY, tokenInTab); } catch (err) { /* storage off: kept for this page only */ }
    input.value = '';
    say('token set for this tab', false);
  });
  document.getElementById('log-refresh').addEventListener('click', function () { if (logName) showLog(logName); });
  document.getElementById('log-close').addEventListener('click', function () { document.getElementById('log').hidden = true; logName = null; });

  refreshChrome();
  connect();
  setInterval(tickUptimes, 1000);
})();
`;

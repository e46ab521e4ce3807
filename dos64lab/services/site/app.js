// The status page: fetch /api/status once a second and fill the tables.
// The document's shape is defined in dos64lab/services/status.py ("dos64lab-status/1").
"use strict";

const $ = (id) => document.getElementById(id);

function cell(text, numeric) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  if (numeric) td.className = "n";
  return td;
}

function rows(table, list, columns) {        // columns: [[key or function, numeric], ...]
  const body = table.tBodies[0] || table;
  body.replaceChildren(...list.map((item) => {
    const tr = document.createElement("tr");
    for (const [key, numeric] of columns) {
      tr.append(cell(typeof key === "function" ? key(item) : item[key], numeric));
    }
    return tr;
  }));
}

function pairs(table, object) {
  rows(table, Object.entries(object || {}), [[(e) => e[0]], [(e) => e[1], true]]);
}

function duration(s) {
  if (s === null) return "–";
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + Math.floor(s % 60) + "s";
}

function show(st) {
  $("version").textContent = st.kernel.version + " (net=" + st.kernel.net + ")";
  $("uptime").textContent = duration(st.kernel.uptime_s);
  $("address").textContent = st.interface.address || "no address";
  $("stack").textContent = st.stack.name + ", " + st.stack.polls + " polls";
  const nonzero = Object.fromEntries(Object.entries(st.interface.counters).filter((e) => e[1]));
  pairs($("counters"), { mac: st.interface.mac, gateway: st.interface.gateway, ...nonzero });
  rows($("arp"), st.arp, [["ip"], ["mac"], [(e) => e.expires_in_s.toFixed(0) + " s", true]]);
  pairs($("dhcp"), st.dhcp || { lease: "none (static address)" });
  rows($("queues"), Object.entries(st.virtio.queues), [[(e) => e[0]],
    ...["size", "avail_idx", "used_idx", "last_used_idx", "num_free", "kicks", "kicks_suppressed"]
      .map((k) => [(e) => e[1][k], true])]);
  pairs($("virtio"), { transport: st.virtio.transport, features: "0x" + st.virtio.features.toString(16),
                       ...st.virtio.counters });
  rows($("sockets"), st.sockets, [["proto"], ["state"], ["local"], ["remote"], ["rx_queue", true],
    ["tx_queue", true], [(s) => Object.entries(s.counters).filter((e) => e[1])
      .map((e) => e[0] + "=" + e[1]).join(" ")]]);
}

async function refresh() {
  const live = $("live");
  try {
    const answer = await fetch("/api/status", { cache: "no-store" });
    if (!answer.ok) throw new Error(answer.status + " " + answer.statusText);
    show(await answer.json());
    live.textContent = "live " + new Date().toLocaleTimeString();
    live.className = "ok";
  } catch (err) {
    live.textContent = "not answering: " + err.message;
    live.className = "stale";
  }
  setTimeout(refresh, 1000);
}

refresh();

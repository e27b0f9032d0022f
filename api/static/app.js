// inkdex search page: search, results with highlighted thumbnails, a document view with
// word boxes over the page, uploads and ingest status. Plain DOM, no build step.
// Every string from the server goes into the page as text (textContent / text nodes);
// the only markup taken from the server is the <mark> of search snippets, rebuilt here.
"use strict";

const $ = (sel) => document.querySelector(sel);
const PAGE_SIZE = 10;
const TOKEN_KEY = "inkdex.token";

const state = { q: "", fuzzy: false, offset: 0, hits: new Map(), docTimer: null };

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };
function unescapeHtml(s) {
  return s.replace(/&(amp|lt|gt|quot|#x27|#39);/g, (m) => ENTITIES[m]);
}

// Snippets are HTML-escaped text with matched words in <mark>; rebuild them as nodes.
function snippetNodes(snippet) {
  const out = [];
  let marked = false;
  for (const part of String(snippet || "").split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) {
      const text = unescapeHtml(part);
      out.push(marked ? el("mark", {}, text) : document.createTextNode(text));
    }
  }
  return out;
}

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (options.method && options.method !== "GET" && token()) {
    headers.set("Authorization", "Bearer " + token());
  }
  const resp = await fetch(path, { ...options, headers });
  let body = null;
  if (resp.status !== 204) {
    const type = resp.headers.get("content-type") || "";
    body = type.includes("json") ? await resp.json() : await resp.text();
  }
  if (!resp.ok) {
    const detail = body && body.detail ? body.detail : resp.statusText;
    const err = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
    err.status = resp.status;
    err.body = body;
    throw err;
  }
  return body;
}

function imageUrl(docId, params) {
  const qs = new URLSearchParams(params);
  return `/documents/${encodeURIComponent(docId)}/image?${qs}`;
}

function setHash(params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined && v !== false) qs.set(k, v);
  const next = "#" + qs.toString();
  if (location.hash === next) route();
  else location.hash = next;
}

// ---------------------------------------------------------------- search

async function runSearch() {
  const summary = $("#results-summary");
  const list = $("#results");
  list.replaceChildren();
  $("#pager").hidden = true;
  if (!state.q) {
    summary.textContent = "Type a word to search the archive.";
    return;
  }
  summary.textContent = "Searching…";
  const params = new URLSearchParams({ q: state.q, limit: PAGE_SIZE, offset: state.offset });
  if (state.fuzzy) params.set("fuzzy", "true");
  let data;
  try {
    data = await api("/search?" + params);
  } catch (err) {
    summary.textContent = "";
    summary.append(el("span", { class: "error" }, err.message));
    return;
  }
  state.hits.clear();
  const first = data.total ? state.offset + 1 : 0;
  const last = state.offset + data.hits.length;
  summary.textContent = data.total
    ? `${data.total} document${data.total === 1 ? "" : "s"} match “${state.q}” (showing ${first}–${last})`
    : `No document matches “${state.q}”.`;
  for (const hit of data.hits) {
    state.hits.set(hit.doc_id, hit);
    const open = () => setHash({ doc: hit.doc_id, q: state.q, page: hit.matches.length ? hit.matches[0].page : 0 });
    const pages = new Set(hit.matches.map((m) => m.page + 1));
    list.append(
      el("li", { class: "result", tabindex: 0, dataset: { docId: hit.doc_id }, onclick: open,
                 onkeydown: (e) => { if (e.key === "Enter") open(); } },
        el("img", { src: imageUrl(hit.doc_id, { highlight: state.q, size: 320, page: hit.matches.length ? hit.matches[0].page : 0 }),
                    alt: "page of " + hit.filename, loading: "lazy" }),
        el("div", {},
          el("h4", {}, hit.filename),
          el("p", { class: "snippet" }, ...snippetNodes(hit.snippet)),
          el("p", { class: "muted" },
            `${hit.matches.length} match${hit.matches.length === 1 ? "" : "es"}` +
            (pages.size ? ` on page ${[...pages].join(", ")}` : "") +
            ` · score ${hit.score.toFixed(2)}`))));
  }
  if (data.total > PAGE_SIZE) {
    $("#pager").hidden = false;
    $("#prev").disabled = state.offset === 0;
    $("#next").disabled = last >= data.total;
    $("#page-label").textContent = `page ${Math.floor(state.offset / PAGE_SIZE) + 1} of ${Math.ceil(data.total / PAGE_SIZE)}`;
  }
}

// ---------------------------------------------------------------- document view

const docState = { id: null, doc: null, page: 0, activeLine: null };

async function showDocument(docId, q, page) {
  docState.id = docId;
  docState.page = page;
  docState.activeLine = null;
  $("#results-view").hidden = true;
  $("#doc-view").hidden = false;
  $("#back").href = "#" + new URLSearchParams(q ? { q } : {}).toString();
  let doc;
  try {
    doc = await api(`/documents/${encodeURIComponent(docId)}`);
  } catch (err) {
    $("#doc-title").textContent = "Document not available";
    $("#doc-meta").textContent = err.message;
    $("#page-image").removeAttribute("src");
    $("#boxes").replaceChildren();
    $("#transcript").replaceChildren();
    return;
  }
  if (docState.id !== docId) return;
  docState.doc = doc;
  let matches = [];
  if (q) {
    let hit = state.hits.get(docId);
    if (!hit) {
      try {
        const found = await api("/search?" + new URLSearchParams({ q, limit: 100 }));
        hit = found.hits.find((h) => h.doc_id === docId);
      } catch (_) { /* the view works without hit boxes */ }
    }
    matches = hit ? hit.matches : [];
  }
  renderDocument(doc, matches);
  clearTimeout(state.docTimer);
  if (doc.status === "queued" || doc.status === "processing") {
    state.docTimer = setTimeout(() => { if (docState.id === docId) showDocument(docId, q, page); }, 2000);
  }
}

function renderDocument(doc, matches) {
  const pages = doc.transcript ? doc.transcript.pages : [];
  const pageCount = Math.max(pages.length, doc.pages || 1);
  const page = Math.min(docState.page, pageCount - 1);
  $("#doc-title").textContent = doc.filename;
  $("#doc-meta").textContent =
    `${doc.status} · ${doc.media_type || "unknown type"} · ${pageCount} page${pageCount === 1 ? "" : "s"}` +
    (doc.model_version ? ` · read by ${doc.model_version}` : "");
  $("#doc-error").hidden = !doc.error;
  $("#doc-error").textContent = doc.error || "";
  $("#doc-pages").hidden = pageCount < 2;
  $("#doc-page-label").textContent = `page ${page + 1} of ${pageCount}`;
  $("#page-prev").disabled = page === 0;
  $("#page-next").disabled = page >= pageCount - 1;

  const img = $("#page-image");
  const src = imageUrl(doc.doc_id, { page });
  if (img.getAttribute("src") !== src) img.src = src;
  img.alt = `page ${page + 1} of ${doc.filename}`;

  const boxes = $("#boxes");
  const list = $("#transcript");
  boxes.replaceChildren();
  list.replaceChildren();
  const pt = pages[page];
  if (!pt) {
    list.append(el("li", { class: "muted" }, doc.status === "failed" ? "Could not be read." : "Not transcribed yet."));
    return;
  }
  const hitKeys = new Set(matches.filter((m) => m.page === page).map((m) => `${m.line}:${m.word}`));
  const pct = (v, total) => `${(100 * v) / total}%`;
  const place = (node, [x, y, w, h]) => {
    node.style.left = pct(x, pt.width);
    node.style.top = pct(y, pt.height);
    node.style.width = pct(w, pt.width);
    node.style.height = pct(h, pt.height);
    return node;
  };
  pt.lines.forEach((line, li) => {
    boxes.append(place(el("div", { class: "box line-box", dataset: { line: li } }), line.bbox));
    line.words.forEach((word, wi) => {
      const hit = hitKeys.has(`${li}:${wi}`);
      const alts = word.alternatives.map(([t, p]) => `${t} ${(p * 100).toFixed(0)}%`).join(", ");
      boxes.append(place(
        el("div", { class: "box word-box" + (hit ? " hit" : ""), dataset: { line: li, word: wi },
                    title: `${word.text} (${(word.confidence * 100).toFixed(0)}%)` + (alts ? ` — ${alts}` : "") }),
        word.bbox));
    });
    const item = el("li", { dataset: { line: li }, onclick: () => selectLine(li) });
    if (line.words.length) {
      line.words.forEach((word, wi) => {
        if (wi) item.append(" ");
        item.append(hitKeys.has(`${li}:${wi}`) ? el("mark", {}, word.text) : word.text);
      });
    } else {
      item.append(line.text);
    }
    item.append(el("span", { class: "conf" }, `${(line.confidence * 100).toFixed(0)}%`));
    list.append(item);
  });
  if (!pt.lines.length) list.append(el("li", { class: "muted" }, "No text found on this page."));
}

function selectLine(li) {
  docState.activeLine = docState.activeLine === li ? null : li;
  for (const node of document.querySelectorAll("#boxes .box, #transcript li")) {
    node.classList.toggle("active", docState.activeLine !== null && node.dataset.line === String(docState.activeLine));
  }
  const box = document.querySelector(`#boxes .line-box[data-line="${li}"]`);
  if (box && docState.activeLine !== null) box.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

// ---------------------------------------------------------------- uploads and status

async function uploadFiles(files) {
  const log = $("#upload-log");
  for (const file of files) {
    const row = el("li", {}, el("span", { class: "name" }, file.name), el("span", { class: "status" }, "uploading"));
    log.prepend(row);
    const badge = row.querySelector(".status");
    const form = new FormData();
    form.append("file", file, file.name);
    try {
      const res = await api("/documents", { method: "POST", body: form });
      row.dataset.docId = res.doc_id;
      badge.textContent = res.status;
      badge.className = "status " + res.status;
    } catch (err) {
      badge.textContent = err.status === 409 ? "already archived" : "refused";
      badge.className = "status failed";
      row.append(el("span", { class: "error" }, err.message));
      if (err.status === 401) $("#token-box").open = true;
    }
  }
  refreshRecent();
}

let recentTimer = null;
async function refreshRecent() {
  clearTimeout(recentTimer);
  let busy = false;
  try {
    const data = await api("/documents?limit=15");
    const list = $("#recent");
    list.replaceChildren();
    for (const d of data.documents) {
      busy = busy || d.status === "queued" || d.status === "processing";
      list.append(el("li", { title: d.error || d.filename, dataset: { docId: d.doc_id, status: d.status },
                             onclick: () => setHash({ doc: d.doc_id }) },
        el("span", { class: "name" }, d.filename),
        el("span", { class: "status " + d.status }, d.status)));
    }
    if (!data.documents.length) list.append(el("li", { class: "muted" }, "Nothing here yet."));
    // Uploads made from this page follow their documents' status.
    const byId = new Map(data.documents.map((d) => [d.doc_id, d]));
    for (const row of document.querySelectorAll("#upload-log li[data-doc-id]")) {
      const d = byId.get(row.dataset.docId);
      if (!d) continue;
      const badge = row.querySelector(".status");
      badge.textContent = d.status;
      badge.className = "status " + d.status;
      if (d.error) row.title = d.error;
    }
  } catch (_) { /* keep the last list; try again later */ }
  updateHealth();
  recentTimer = setTimeout(refreshRecent, busy ? 1500 : 8000);
}

async function updateHealth() {
  try {
    const h = await api("/health");
    $("#health").textContent =
      `${h.documents ?? "?"} documents · queue ${h.queue ?? "?"} · model ${h.model ?? "none"} · index ${h.index_generation ?? "–"}`;
  } catch (err) {
    $("#health").textContent = "service unavailable";
  }
}

// ---------------------------------------------------------------- routing

function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  const q = params.get("q") || "";
  $("#q").value = q;
  if (params.get("doc")) {
    showDocument(params.get("doc"), q, Number(params.get("page") || 0));
    return;
  }
  docState.id = null;
  clearTimeout(state.docTimer);
  $("#doc-view").hidden = true;
  $("#results-view").hidden = false;
  state.q = q;
  state.fuzzy = params.get("fuzzy") === "1";
  state.offset = Number(params.get("offset") || 0);
  $("#fuzzy").checked = state.fuzzy;
  runSearch();
}

function init() {
  $("#token").value = token();
  $("#token").addEventListener("change", (e) => {
    const v = e.target.value.trim();
    if (v) localStorage.setItem(TOKEN_KEY, v);
    else localStorage.removeItem(TOKEN_KEY);
  });
  if (token()) $("#token-box").open = false;
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setHash({ q: $("#q").value.trim(), fuzzy: $("#fuzzy").checked ? "1" : "" });
  });
  $("#upload-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const files = [...$("#file").files];
    if (files.length) uploadFiles(files).then(() => { $("#file").value = ""; });
  });
  $("#prev").addEventListener("click", () => setHash({ q: state.q, fuzzy: state.fuzzy ? "1" : "", offset: Math.max(0, state.offset - PAGE_SIZE) }));
  $("#next").addEventListener("click", () => setHash({ q: state.q, fuzzy: state.fuzzy ? "1" : "", offset: state.offset + PAGE_SIZE }));
  const turn = (delta) => {
    const params = new URLSearchParams(location.hash.slice(1));
    params.set("page", Math.max(0, docState.page + delta));
    location.hash = "#" + params;
  };
  $("#page-prev").addEventListener("click", () => turn(-1));
  $("#page-next").addEventListener("click", () => turn(1));
  window.addEventListener("hashchange", route);
  route();
  refreshRecent();
}

document.addEventListener("DOMContentLoaded", init);

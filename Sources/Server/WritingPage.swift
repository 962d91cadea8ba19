import Hummingbird
import NIOCore

extension StoryServer {
    func writingPage() -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: writingPageHTML)))
    }
}

/// The writing page at /: a manuscript, Continue / Retry / Undo / Accept, the main settings, the token count
/// against the context and the reading's progress. Plain HTML, CSS and JavaScript in the binary: no CDN, no build
/// step. It talks to the server through llama.cpp's /completion (streamed, with `return_progress`), /tokenize
/// and /props, so it exercises the same API the front-ends use.
let writingPageHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StoryWriter</title>
<style>
:root { --paper: #fbf8f1; --ink: #27231d; --muted: #7a7266; --line: #e2dccf; --accent: #8a4b2a; --new: #fdf0c9; }
* { box-sizing: border-box; }
body { margin: 0; background: #ece7dc; color: var(--ink); font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { position: sticky; top: 0; z-index: 2; background: #2f2a24; color: #f4efe6; padding: .5rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
header h1 { font: 600 1.05rem Georgia, serif; margin: 0 1rem 0 0; letter-spacing: .02em; }
button, .file { font: inherit; font-size: .9rem; border: 1px solid #6d6459; background: #3d372f; color: #f4efe6; border-radius: 6px; padding: .35rem .8rem; cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); font-weight: 600; }
button:disabled { opacity: .45; cursor: default; }
.file input { display: none; }
.spacer { flex: 1; }
#count { font-size: .85rem; color: #d8d0c2; white-space: nowrap; }
main { max-width: 46rem; margin: 1.5rem auto 6rem; padding: 0 1rem; }
.page { background: var(--paper); border: 1px solid var(--line); border-radius: 4px; box-shadow: 0 1px 6px rgba(0,0,0,.08); padding: 2.5rem 3rem; min-height: 60vh; }
#manuscript { width: 100%; min-height: 8rem; display: block; border: 0; outline: 0; resize: none; background: transparent; color: var(--ink); font: 1.12rem/1.75 Georgia, "Iowan Old Style", "Times New Roman", serif; overflow: hidden; }
#pending { white-space: pre-wrap; font: 1.12rem/1.75 Georgia, "Iowan Old Style", "Times New Roman", serif; background: var(--new); border-left: 3px solid var(--accent); padding: 0 .4rem; margin: 0 -.4rem; }
#pending:empty { display: none; }
#review { display: none; gap: .5rem; margin-top: 1rem; }
#review.shown { display: flex; flex-wrap: wrap; }
#review button { background: #fff; color: var(--ink); border-color: var(--line); }
#review button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
#status { margin: .75rem 0 0; color: var(--muted); font-size: .9rem; min-height: 1.4em; }
progress { width: 100%; height: .5rem; accent-color: var(--accent); display: none; }
progress.shown { display: block; }
details { margin-top: 1rem; background: var(--paper); border: 1px solid var(--line); border-radius: 4px; padding: .5rem 1rem; }
summary { cursor: pointer; color: var(--muted); }
.settings { display: grid; grid-template-columns: repeat(auto-fill, minmax(10rem, 1fr)); gap: .75rem 1rem; margin: .75rem 0 .25rem; }
.settings label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
.settings input { font: inherit; padding: .3rem .4rem; border: 1px solid var(--line); border-radius: 4px; background: #fff; color: var(--ink); }
@media (max-width: 600px) { .page { padding: 1.25rem 1rem; } main { margin-top: .75rem; } header h1 { flex-basis: 100%; } }
</style>
</head>
<body>
<header>
  <h1>StoryWriter</h1>
  <label class="file">Open…<input id="open" type="file" accept=".txt,text/plain"></label>
  <button id="save">Save .txt</button>
  <button id="undo" disabled>Undo</button>
  <span class="spacer"></span>
  <span id="count">—</span>
  <button id="stop" disabled>Stop</button>
  <button id="continue" class="primary">Continue</button>
</header>
<main>
  <div class="page">
    <textarea id="manuscript" spellcheck="true" placeholder="Paste or type your story here, or open a .txt file, then press Continue."></textarea><span id="pending"></span>
    <div id="review"><button id="accept" class="primary">Accept</button><button id="retry">Retry</button><button id="discard">Discard</button></div>
  </div>
  <progress id="progress" max="1" value="0"></progress>
  <p id="status" role="status"></p>
  <details>
    <summary>Settings</summary>
    <div class="settings">
      <label>New tokens<input id="n_predict" type="number" min="1" value="200"></label>
      <label>Temperature<input id="temperature" type="number" step="0.05" min="0" value="0.8"></label>
      <label>Top-p<input id="top_p" type="number" step="0.01" min="0" max="1" value="0.95"></label>
      <label>Top-k<input id="top_k" type="number" min="0" value="40"></label>
      <label>Min-p<input id="min_p" type="number" step="0.01" min="0" max="1" value="0.05"></label>
      <label>Repetition penalty<input id="repeat_penalty" type="number" step="0.01" min="0.01" value="1.1"></label>
      <label>Seed (-1 random)<input id="seed" type="number" value="-1"></label>
      <label>API key<input id="key" type="password" autocomplete="off"></label>
    </div>
  </details>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const text = $("manuscript"), pending = $("pending"), statusLine = $("status"), bar = $("progress");
let undoStack = [], contextSize = 0, running = null, base = "";

for (const id of ["n_predict", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "key"]) {
  const saved = localStorage.getItem("sw." + id);
  if (saved !== null) $(id).value = saved;
  $(id).addEventListener("change", () => localStorage.setItem("sw." + id, $(id).value));
}
function headers() {
  const h = { "Content-Type": "application/json" };
  if ($("key").value) h.Authorization = "Bearer " + $("key").value;
  return h;
}
function grow() { text.style.height = "auto"; text.style.height = text.scrollHeight + "px"; }
function words(s) { return (s.match(/\S+/g) || []).length; }
function clock(seconds) {
  if (!isFinite(seconds)) return "";
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}
function setBusy(busy) {
  $("continue").disabled = busy; $("stop").disabled = !busy; $("retry").disabled = busy;
  $("accept").disabled = busy; $("discard").disabled = busy; text.readOnly = busy;
}
function showReview() { $("review").classList.toggle("shown", pending.textContent.length > 0 && !running); }

let countTimer = null;
function recount() {
  clearTimeout(countTimer);
  countTimer = setTimeout(async () => {
    try {
      const r = await fetch("tokenize", { method: "POST", headers: headers(), body: JSON.stringify({ content: text.value + pending.textContent }) });
      if (!r.ok) { $("count").textContent = "— tokens"; return; }
      const n = (await r.json()).tokens.length;
      $("count").textContent = `${n.toLocaleString()} / ${contextSize.toLocaleString()} tokens`;
    } catch (e) { $("count").textContent = "offline"; }
  }, 400);
}
async function loadProps() {
  try {
    const r = await fetch("props", { headers: headers() });
    if (r.ok) contextSize = (await r.json()).n_ctx;
  } catch (e) {}
  recount();
}

async function generate() {
  base = text.value;
  pending.textContent = "";
  showReview();
  const prompt = base;
  if (!prompt.trim()) { statusLine.textContent = "Write or paste some text first."; return; }
  const body = {
    prompt, stream: true, return_progress: true, cache_prompt: true,
    n_predict: +$("n_predict").value, temperature: +$("temperature").value, top_p: +$("top_p").value,
    top_k: +$("top_k").value, min_p: +$("min_p").value, repeat_penalty: +$("repeat_penalty").value, seed: +$("seed").value,
  };
  running = new AbortController();
  setBusy(true);
  statusLine.textContent = "Sending the story…";
  const wordsPerToken = { value: 0.75 };
  try {
    const r = await fetch("completion", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: running.signal });
    if (!r.ok) {
      const e = await r.json().catch(() => ({}));
      throw new Error((e.error && e.error.message) || r.statusText);
    }
    const reader = r.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        if (!event.startsWith("data: ")) continue;
        const data = JSON.parse(event.slice(6));
        if (data.prompt_progress) {
          const p = data.prompt_progress, fresh = p.processed - p.cache, left = p.total - p.processed;
          wordsPerToken.value = words(prompt) / Math.max(1, p.total);
          bar.classList.add("shown"); bar.value = p.total ? p.processed / p.total : 1;
          const rate = p.time_ms > 0 ? fresh / (p.time_ms / 1000) : 0;
          const reused = p.cache > 0 ? ` (${p.cache.toLocaleString()} already read)` : "";
          statusLine.textContent = `Reading ${p.processed.toLocaleString()} of ${p.total.toLocaleString()} tokens${reused}` +
            (rate > 0 ? ` · ${Math.round(rate * wordsPerToken.value * 60).toLocaleString()} words/min · ${clock(left / rate)} left` : "");
        } else if (data.content) {
          bar.classList.remove("shown");
          pending.textContent += data.content;
          statusLine.textContent = "Writing…";
        }
        if (data.stop && data.timings) {
          const t = data.timings;
          statusLine.textContent = `Wrote ${t.predicted_n} tokens; read ${t.prompt_n.toLocaleString()} new tokens, ${t.cache_n.toLocaleString()} reused.`;
        }
      }
    }
  } catch (e) {
    statusLine.textContent = e.name === "AbortError" ? "Stopped." : "Could not continue: " + e.message;
  } finally {
    running = null;
    bar.classList.remove("shown");
    setBusy(false);
    showReview();
    recount();
  }
}

$("continue").onclick = () => { if (pending.textContent) accept(); generate(); };
$("stop").onclick = () => running && running.abort();
$("retry").onclick = () => { text.value = base; generate(); };
$("discard").onclick = () => { pending.textContent = ""; showReview(); recount(); };
function accept() {
  undoStack.push(text.value);
  text.value = text.value + pending.textContent;
  pending.textContent = "";
  $("undo").disabled = false;
  grow(); showReview(); recount();
}
$("accept").onclick = accept;
$("undo").onclick = () => {
  if (pending.textContent) { pending.textContent = ""; }
  else if (undoStack.length) { text.value = undoStack.pop(); }
  $("undo").disabled = undoStack.length === 0;
  grow(); showReview(); recount();
};
$("save").onclick = () => {
  const blob = new Blob([text.value + pending.textContent], { type: "text/plain;charset=utf-8" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = "manuscript.txt"; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
};
$("open").onchange = async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  undoStack.push(text.value);
  text.value = await file.text();
  pending.textContent = ""; $("undo").disabled = false;
  grow(); showReview(); recount();
};
text.addEventListener("input", () => { grow(); recount(); });
$("key").addEventListener("change", loadProps);
grow(); loadProps();
</script>
</body>
</html>
"""#

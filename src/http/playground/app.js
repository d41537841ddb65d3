// The playground page: the key, the lists of what can be named (models, samplers, LoRAs), and
// the generator. Every generation goes through the jobs API (POST /v0/api/images) — text to
// image, with LoRAs (`loras`), from a starting image (`image`, `strength`) and with a painted
// mask (`mask`) alike — and is followed live through the job's event stream
// (GET /v0/api/jobs/:id/events: step, ETA, previews, then the job with its files).
// What the page saw of a job's progress is kept in window.ddProgressLog (for tests and for
// anyone curious), so nobody has to race the display to know what happened.

import { ApiError, apiKey, blobUrl, call, callJson, followEvents, pathOf, setApiKey, sleep }
  from "./api.js";
import { Gallery } from "./gallery.js";
import { MaskEditor } from "./mask.js";

const $ = (id) => document.getElementById(id);
window.ddProgressLog = [];
const log = (entry) => window.ddProgressLog.push({ ...entry, at: Date.now() });

const gallery = new Gallery({ list: $("gallery"), status: $("gallery-status"),
  more: $("gallery-more"), log });
const mask = new MaskEditor({ initCanvas: $("init-canvas"), maskCanvas: $("mask-canvas"),
  box: $("canvas-box"), tools: $("mask-tools"), status: $("mask-status"), brush: $("brush") });
let running = null; // {controller, jobId}
let resultUrls = [];

// ---- key and lists ---------------------------------------------------------------------------

function fillSelect(select, names, keepFirst = true) {
  const chosen = select.value;
  select.replaceChildren(...(keepFirst ? [select.options[0]] : []));
  for (const name of names) select.append(new Option(name, name));
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
}

function fillLoras(names) {
  const list = $("lora-list");
  list.replaceChildren();
  $("loras-empty").hidden = names.length > 0;
  names.forEach((name, i) => {
    const li = document.createElement("li");
    li.className = "row";
    const use = document.createElement("input");
    use.type = "checkbox";
    use.id = `lora-${i}`;
    use.dataset.lora = name;
    const label = document.createElement("label");
    label.htmlFor = use.id;
    label.textContent = name;
    const weight = document.createElement("input");
    weight.type = "number";
    weight.id = `lora-weight-${i}`;
    weight.min = "-10";
    weight.max = "10";
    weight.step = "0.05";
    weight.value = "0.8";
    weight.className = "narrow";
    weight.setAttribute("aria-label", `Weight of ${name}`);
    li.append(use, label, weight);
    list.append(li);
  });
}

async function loadLists() {
  const status = $("key-status");
  try {
    const models = await callJson("/v1/models");
    fillSelect($("model"), models.data.map((m) => m.id));
    fillSelect($("sampler"), await callJson("/samplers"));
    fillLoras(await callJson("/loras"));
    status.textContent = apiKey() ? "Key in use (kept in this tab only)." : "No key in use.";
    await gallery.refresh();
  } catch (error) {
    status.textContent = error instanceof ApiError && error.status === 401
      ? "This server needs an API key: " + error.message
      : "Could not reach the server: " + error.message;
  }
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey($("api-key").value.trim());
  $("api-key").value = "";
  loadLists();
});
$("key-forget").addEventListener("click", () => {
  setApiKey("");
  $("key-status").textContent = "Key forgotten.";
  $("gallery").replaceChildren();
});

// ---- progress display ------------------------------------------------------------------------

function showProgress(step, steps, eta) {
  const bar = $("progress");
  bar.max = steps;
  bar.value = step;
  const left = eta >= 0 ? ` · about ${Math.ceil(eta)} s left` : "";
  $("progress-text").textContent = `Step ${step}/${steps}${left}`;
}

function showPreview(src, step, steps) {
  $("preview").src = src;
  $("preview-caption").textContent = `Preview at step ${step}/${steps}`;
  $("preview-box").hidden = false;
}

function say(text) {
  $("progress-text").textContent = text;
}

function fail(message) {
  $("error").textContent = message;
  say("Failed.");
  log({ type: "error", message });
}

function showResult(url, alt) {
  resultUrls.push(url);
  const img = document.createElement("img");
  img.src = url;
  img.alt = alt;
  img.className = "result";
  $("results").append(img);
}

// ---- the request -----------------------------------------------------------------------------

const number = (id) => ($(id).value.trim() === "" ? undefined : Number($(id).value));

function chosenLoras() {
  return [...$("lora-list").querySelectorAll("input[type=checkbox]:checked")].map((box) => ({
    name: box.dataset.lora,
    weight: Number($(box.id.replace("lora-", "lora-weight-")).value),
  }));
}

function readForm() {
  const prompt = $("prompt").value.trim();
  if (!prompt) throw new Error("Write a prompt first.");
  const seed = number("seed");
  return {
    prompt,
    negative: $("negative-prompt").value.trim(),
    model: $("model").value,
    sampler: $("sampler").value,
    steps: number("steps"),
    guidance: number("guidance"),
    width: number("width"),
    height: number("height"),
    seed: seed === undefined || seed < 0 ? undefined : seed,
    count: number("count") ?? 1,
    loras: chosenLoras(),
  };
}

// Drops undefined and empty-string fields: the server then uses the model's defaults.
const compact = (object) =>
  Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined && v !== ""));

// The jobs API's request for the form. With a starting image the job runs at the picture's size
// (drawn at the form's size, or its own), so width and height are left to it; a painted mask
// repaints its part from scratch (the server's default strength for a mask is 1).
function jobRequest(form) {
  const body = {
    prompt: form.prompt, negativePrompt: form.negative, model: form.model, sampler: form.sampler,
    steps: form.steps, guidanceScale: form.guidance, width: form.width, height: form.height,
    seed: form.seed, samples: form.count,
    loras: form.loras.length > 0 ? form.loras : undefined,
  };
  let what = form.loras.length > 0 ? "with LoRAs" : "text to image";
  if (mask.loaded) {
    const [width, height] = mask.sizeFor(form.width, form.height);
    mask.layout(width, height);
    const masked = mask.maskBase64();
    Object.assign(body, { width: undefined, height: undefined, image: mask.imageBase64(),
      mask: masked ?? undefined, strength: masked ? undefined : Number($("strength").value) });
    what = masked ? "inpainting" : "image to image";
  }
  return { body: compact(body), what };
}

async function viaJobs(form, signal) {
  const { body, what } = jobRequest(form);
  const created = await callJson("/v0/api/images", { method: "POST", signal, body });
  running.jobId = created.jobId;
  log({ type: "job", jobId: created.jobId, what });
  say(`Queued (${what})…`);
  let job = null;
  const onEvent = ({ event, data }) => {
    const body = data ? JSON.parse(data) : {};
    if (event === "status") {
      log({ type: "status", status: body.status });
      if (body.status === "IN_PROGRESS") say("Running…");
    } else if (event === "progress") {
      log({ type: "progress", step: body.step, steps: body.steps, eta: body.eta });
      showProgress(body.step, body.steps, body.eta);
    } else if (event === "preview") {
      log({ type: "preview", step: body.step, steps: body.steps });
      if (body.image) showPreview("data:image/png;base64," + body.image, body.step, body.steps);
    } else if (event === "job") {
      job = body;
    }
  };
  const path = `/v0/api/jobs/${encodeURIComponent(created.jobId)}`;
  const streamed = await followEvents(path + "/events", onEvent, { signal, isDone: () => !!job });
  if (!streamed) job = await pollJob(path, signal);
  if (job.status !== "SUCCESS")
    throw new Error(`The job ended ${job.status}` + (job.error ? `: ${job.error}` : "."));
  for (const file of job.outputFiles) showResult(await blobUrl(pathOf(file.url), signal), form.prompt);
  return job.outputFiles.length;
}

// A server without the event stream: the job object, every half second.
async function pollJob(path, signal) {
  for (;;) {
    const { job } = await callJson(path, { signal });
    if (["SUCCESS", "FAILED", "CANCELLED"].includes(job.status)) return job;
    if (job.progress) {
      const steps = job.progress.steps ?? job.progress.total;
      log({ type: "progress", step: job.progress.step, steps, eta: job.progress.eta, polled: true });
      showProgress(job.progress.step, steps, job.progress.eta ?? -1);
    }
    await sleep(500, signal);
  }
}

async function generate() {
  if (running) return;
  $("error").textContent = "";
  let form;
  try {
    form = readForm();
  } catch (error) {
    fail(error.message);
    $("prompt").focus();
    return;
  }
  running = { controller: new AbortController(), jobId: null };
  const { signal } = running.controller;
  for (const url of resultUrls) URL.revokeObjectURL(url);
  resultUrls = [];
  $("results").replaceChildren();
  $("preview-box").hidden = true;
  $("progress").removeAttribute("value"); // indeterminate until the first step
  $("generate").disabled = true;
  $("cancel").disabled = false;
  log({ type: "submit", prompt: form.prompt });
  try {
    const made = await viaJobs(form, signal);
    say(`Done: ${made} image${made === 1 ? "" : "s"}.`);
    $("progress").value = $("progress").max;
    log({ type: "done", images: made });
    await gallery.refresh();
  } catch (error) {
    if (error.name === "AbortError") say("Cancelled.");
    else fail(error.message);
  } finally {
    running = null;
    $("generate").disabled = false;
    $("cancel").disabled = true;
  }
}

$("generate-form").addEventListener("submit", (event) => {
  event.preventDefault();
  generate();
});
$("cancel").addEventListener("click", async () => {
  if (!running) return;
  const { controller, jobId } = running;
  if (jobId) {
    try {
      await call(`/v0/api/jobs/${encodeURIComponent(jobId)}/cancel`, { method: "POST" });
    } catch (_) {
      // it may have ended meanwhile; the stream says how
    }
  }
  controller.abort();
  log({ type: "cancel", jobId });
  $("generate").focus();
});

// ---- image to image --------------------------------------------------------------------------

$("init-image").addEventListener("change", async () => {
  const file = $("init-image").files[0];
  if (!file) return;
  try {
    await mask.load(file);
    const [width, height] = mask.sizeFor(number("width"), number("height"));
    mask.layout(width, height);
    mask.say(`Starting image loaded at ${width}×${height}. Paint over what should be repainted.`);
  } catch (error) {
    mask.say("Could not read that picture: " + error.message);
  }
});
for (const id of ["width", "height"])
  $(id).addEventListener("change", () => {
    if (mask.loaded) mask.layout(...mask.sizeFor(number("width"), number("height")));
  });
$("strength").addEventListener("input", () => ($("strength-value").value = $("strength").value));
$("mask-clear").addEventListener("click", () => mask.clear());
$("mask-invert").addEventListener("click", () => mask.invert());
$("mask-fill").addEventListener("click", () => mask.fill());
$("init-remove").addEventListener("click", () => {
  mask.remove();
  $("init-image").value = "";
  $("init-image").focus();
});
$("gallery-refresh").addEventListener("click", () => gallery.refresh());

loadLists();

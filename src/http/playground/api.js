// Talking to the server: the API key (kept in the tab's session storage, never in a cookie or
// local storage, so it goes away with the tab), JSON calls that turn the server's error shapes
// into Error messages, and a Server-Sent Events reader. EventSource cannot send an Authorization
// header, so the stream is read with fetch() and its frames are parsed here.

const KEY_NAME = "diffusiond.apiKey";

export function apiKey() {
  return sessionStorage.getItem(KEY_NAME) || "";
}

export function setApiKey(key) {
  if (key) sessionStorage.setItem(KEY_NAME, key);
  else sessionStorage.removeItem(KEY_NAME);
}

export function authHeaders(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: "Bearer " + key } : { ...extra };
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The message of an error answer: ours {"error": {"message"}} and OpenAI's share that path.
async function errorOf(response) {
  let message = response.status + " " + response.statusText;
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) message = body.error.message;
  } catch (_) {
    // not JSON: the status line says enough
  }
  return new ApiError(response.status, message);
}

// A call with the key; `body` (an object) is sent as JSON. Answers the Response when it is 2xx.
export async function call(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: authHeaders(), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function callJson(path, options) {
  return (await call(path, options)).json();
}

// The bytes at `path` (fetched with the key) as an object URL for <img> and download links.
export async function blobUrl(path, signal) {
  const response = await call(path, { signal });
  return URL.createObjectURL(await response.blob());
}

// The path of an absolute URL the server gave (its base is the Host we used: same origin).
export function pathOf(url) {
  return new URL(url, location.href).pathname;
}

// Parses the text of an event stream as it arrives. `feed(text)` calls onEvent({id, event, data})
// for each complete frame (a blank line ends one); comment lines (": keep-alive") are skipped.
export class SseParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.event = "";
    this.data = [];
    this.id = null;
  }

  feed(text) {
    this.buffer += text;
    let end;
    while ((end = this.buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = this.buffer.slice(0, end);
      const breakLength = this.buffer.startsWith("\r\n", end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + breakLength);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      if (this.data.length > 0 || this.event)
        this.onEvent({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
      this.reset();
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
  }
}

// Follows an event stream at `path` until `isDone()` says so, reconnecting (with Last-Event-ID,
// so no event is missed or repeated) when the connection drops. Answers false when the server
// has no such stream (404 or 405 on the first try), so the caller can poll instead.
export async function followEvents(path, onEvent, { signal, isDone, maxRetries = 8 } = {}) {
  let lastId = null;
  let failures = 0;
  for (;;) {
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    let response;
    try {
      response = await fetch(path, { headers, signal, cache: "no-store" });
    } catch (error) {
      if (signal && signal.aborted) throw error;
      if (++failures > maxRetries) throw error;
      await sleep(Math.min(4000, 250 * 2 ** failures), signal);
      continue;
    }
    if (!response.ok) {
      if (lastId === null && (response.status === 404 || response.status === 405)) {
        const error = await errorOf(response);
        if (response.status === 405 || /endpoint/.test(error.message)) return false;
        throw error;
      }
      throw await errorOf(response);
    }
    const parser = new SseParser((frame) => {
      if (frame.id !== null) lastId = frame.id;
      onEvent(frame);
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        failures = 0;
        parser.feed(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      if (signal && signal.aborted) throw error;
    }
    if (isDone()) return true;
    if (++failures > maxRetries) throw new Error("the progress stream kept closing");
    await sleep(Math.min(4000, 250 * 2 ** failures), signal);
  }
}

export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal)
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("aborted", "AbortError"));
      });
  });
}

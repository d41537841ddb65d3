// The account's images (the image-object API, /v1/images), newest first: each with its bytes
// (fetched with the key, shown from a blob: URL), a download link, publish / unpublish (the
// public address, served without a key, is shown as a link) and delete. Names and other text
// from the server are only ever set as text, never as markup.

import { blobUrl, call, callJson } from "./api.js";

const PAGE = 12;

export class Gallery {
  constructor({ list, status, more, log }) {
    this.list = list;
    this.status = status;
    this.more = more;
    this.log = log;
    this.offset = 0;
    this.urls = [];
    more.addEventListener("click", () => this.load(false));
  }

  async refresh() {
    for (const url of this.urls) URL.revokeObjectURL(url);
    this.urls = [];
    this.offset = 0;
    this.list.replaceChildren();
    await this.load(true);
  }

  async load(first) {
    this.status.textContent = "Loading images…";
    try {
      const page = await callJson(`/v1/images?limit=${PAGE}&offset=${this.offset}`);
      for (const image of page.data) this.list.append(this.item(image));
      this.offset += page.data.length;
      this.more.hidden = this.offset >= page.total;
      this.status.textContent =
        page.total === 0 ? "No images yet." : `${page.total} image${page.total === 1 ? "" : "s"}.`;
      if (!first && page.data.length > 0) this.list.children[this.offset - page.data.length]
        .querySelector("button").focus();
    } catch (error) {
      this.status.textContent = "Could not list images: " + error.message;
    }
  }

  item(image) {
    const li = document.createElement("li");
    li.className = "card";
    li.dataset.imageId = image.id;
    const img = document.createElement("img");
    img.alt = `${image.name} (${image.width}×${image.height})`;
    img.width = image.width;
    img.height = image.height;
    img.loading = "lazy";
    const caption = document.createElement("p");
    caption.className = "caption";
    caption.textContent = `${image.name} · ${image.width}×${image.height} · ${image.format} · ` +
      new Date(image.created_at).toLocaleString();

    const download = document.createElement("a");
    download.textContent = "Download";
    download.className = "button";
    download.download = `${image.id}.${image.format}`;
    download.setAttribute("aria-disabled", "true");
    blobUrl(`/v1/images/${encodeURIComponent(image.id)}/content`)
      .then((url) => {
        this.urls.push(url);
        img.src = url;
        download.href = url;
        download.removeAttribute("aria-disabled");
      })
      .catch((error) => {
        caption.textContent += " — could not load: " + error.message;
      });

    const publish = document.createElement("button");
    publish.type = "button";
    publish.className = "publish";
    const link = document.createElement("a");
    link.className = "public-url";
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${image.name}`);

    const show = (record) => {
      publish.textContent = record.url ? "Unpublish" : "Publish";
      publish.setAttribute("aria-label", `${publish.textContent} ${record.name}`);
      link.hidden = !record.url;
      link.href = record.url || "";
      link.textContent = record.url ? "Public link" : "";
    };
    show(image);
    publish.addEventListener("click", async () => {
      const action = link.hidden ? "publish" : "unpublish";
      publish.disabled = true;
      try {
        const record = await callJson(`/v1/images/${encodeURIComponent(image.id)}/${action}`, {
          method: "POST",
        });
        show(record);
        this.log({ type: action, id: image.id, url: record.url });
        this.status.textContent = record.url
          ? `Published: ${record.url}`
          : "Unpublished: the public link no longer works.";
      } catch (error) {
        this.status.textContent = `Could not ${action}: ${error.message}`;
      } finally {
        publish.disabled = false;
      }
    });
    remove.addEventListener("click", async () => {
      if (!confirm(`Delete ${image.name}? This cannot be undone.`)) return;
      try {
        await call(`/v1/images/${encodeURIComponent(image.id)}`, { method: "DELETE" });
        const next = li.nextElementSibling || li.previousElementSibling;
        li.remove();
        this.offset -= 1;
        this.log({ type: "delete", id: image.id });
        this.status.textContent = `Deleted ${image.name}.`;
        (next ? next.querySelector("button") : this.list.parentElement.querySelector("button"))
          ?.focus();
      } catch (error) {
        this.status.textContent = "Could not delete: " + error.message;
      }
    });

    const actions = document.createElement("div");
    actions.className = "row";
    actions.append(download, publish, remove);
    li.append(img, caption, actions, link);
    return li;
  }
}

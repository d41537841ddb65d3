// The starting picture for image-to-image and the inpainting mask painted over it. The picture
// is drawn at the size the image will be generated at (cropped to cover it), and the mask canvas
// has that size too: what is painted is what the server repaints (white in the mask it gets).
// Painting works with a mouse, a pen or a finger (pointer events); the buttons beside it (clear,
// invert, mask everything, remove) serve keyboard users as well.

const PAINT = "rgba(255, 40, 120, 1)";

export class MaskEditor {
  constructor({ initCanvas, maskCanvas, box, tools, status, brush }) {
    this.init = initCanvas;
    this.mask = maskCanvas;
    this.box = box;
    this.tools = tools;
    this.status = status;
    this.brush = brush;
    this.picture = null; // the decoded file, redrawn when the size changes
    this.painting = false;
    this.last = null;
    this.mask.addEventListener("pointerdown", (e) => this.down(e));
    this.mask.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel", "pointerleave"])
      this.mask.addEventListener(type, () => this.up());
  }

  get loaded() {
    return this.picture !== null;
  }

  // A new picture starts with a clear mask: one painted over another picture means nothing here.
  async load(file) {
    const bitmap = await createImageBitmap(file);
    this.picture = bitmap;
    this.eraseMask();
    this.box.hidden = false;
    this.tools.hidden = false;
  }

  remove() {
    this.picture = null;
    this.eraseMask();
    this.box.hidden = true;
    this.tools.hidden = true;
    this.say("");
  }

  // The size to generate at: the form's, else the picture's own, scaled to fit 1024 and rounded
  // down to a multiple of 8.
  sizeFor(width, height) {
    if (width && height) return [width, height];
    let w = this.picture.width;
    let h = this.picture.height;
    const scale = Math.min(1, 1024 / Math.max(w, h));
    w = Math.max(64, Math.floor((w * scale) / 8) * 8);
    h = Math.max(64, Math.floor((h * scale) / 8) * 8);
    if (width) return [width, Math.max(64, Math.round((width * h) / w / 8) * 8)];
    if (height) return [Math.max(64, Math.round((height * w) / h / 8) * 8), height];
    return [w, h];
  }

  // Draws the picture at width x height (cropped to cover); keeps the mask when the size is
  // unchanged, else starts a clear one.
  layout(width, height) {
    if (!this.picture) return;
    if (this.init.width !== width || this.init.height !== height) {
      this.init.width = this.mask.width = width;
      this.init.height = this.mask.height = height;
    }
    const p = this.picture;
    const scale = Math.max(width / p.width, height / p.height);
    const sw = width / scale;
    const sh = height / scale;
    const context = this.init.getContext("2d");
    context.drawImage(p, (p.width - sw) / 2, (p.height - sh) / 2, sw, sh, 0, 0, width, height);
  }

  say(text) {
    this.status.textContent = text;
  }

  point(event) {
    const rect = this.mask.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * this.mask.width) / rect.width,
      y: ((event.clientY - rect.top) * this.mask.height) / rect.height,
      scale: this.mask.width / rect.width,
    };
  }

  down(event) {
    event.preventDefault();
    this.mask.setPointerCapture(event.pointerId);
    this.painting = true;
    this.last = null;
    this.move(event);
  }

  move(event) {
    if (!this.painting) return;
    const p = this.point(event);
    const context = this.mask.getContext("2d");
    context.strokeStyle = context.fillStyle = PAINT;
    context.lineWidth = Number(this.brush.value) * p.scale;
    context.lineCap = context.lineJoin = "round";
    context.beginPath();
    if (this.last) {
      context.moveTo(this.last.x, this.last.y);
      context.lineTo(p.x, p.y);
      context.stroke();
    } else {
      context.arc(p.x, p.y, context.lineWidth / 2, 0, 2 * Math.PI);
      context.fill();
    }
    this.last = p;
  }

  up() {
    if (this.painting) this.say(this.hasMask() ? "Mask painted." : "");
    this.painting = false;
    this.last = null;
  }

  eraseMask() {
    this.mask.getContext("2d").clearRect(0, 0, this.mask.width, this.mask.height);
  }

  clear() {
    this.eraseMask();
    this.say("Mask cleared: the whole image is used as a starting point.");
  }

  fill() {
    const context = this.mask.getContext("2d");
    context.fillStyle = PAINT;
    context.fillRect(0, 0, this.mask.width, this.mask.height);
    this.say("The whole image is masked.");
  }

  invert() {
    const context = this.mask.getContext("2d");
    const pixels = context.getImageData(0, 0, this.mask.width, this.mask.height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const painted = d[i + 3] > 127;
      d[i] = 255;
      d[i + 1] = 40;
      d[i + 2] = 120;
      d[i + 3] = painted ? 0 : 255;
    }
    context.putImageData(pixels, 0, 0);
    this.say("Mask inverted.");
  }

  hasMask() {
    const d = this.mask
      .getContext("2d")
      .getImageData(0, 0, this.mask.width, this.mask.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 127) return true;
    return false;
  }

  // The picture as base64 PNG (no data: prefix), at the size it was laid out at.
  imageBase64() {
    return this.init.toDataURL("image/png").split(",")[1];
  }

  // The mask as the server wants it: white where painted, black elsewhere; null when nothing is.
  maskBase64() {
    if (!this.hasMask()) return null;
    const out = document.createElement("canvas");
    out.width = this.mask.width;
    out.height = this.mask.height;
    const context = out.getContext("2d");
    const pixels = this.mask.getContext("2d").getImageData(0, 0, out.width, out.height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const v = d[i + 3] > 127 ? 255 : 0;
      d[i] = d[i + 1] = d[i + 2] = v;
      d[i + 3] = 255;
    }
    context.putImageData(pixels, 0, 0);
    return out.toDataURL("image/png").split(",")[1];
  }
}

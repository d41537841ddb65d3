// The official `openai` npm client, unchanged except for its base URL, against a diffusiond
// server: images.generate (b64_json and url), images.edit (PNG image + mask), models.list and
// an error. Usage: node check.mjs http://127.0.0.1:PORT   (OPENAI_API_KEY: a key, if any)
import assert from 'node:assert/strict';
import zlib from 'node:zlib';

import OpenAI, { toFile } from 'openai';

const server = process.argv[2];
if (!server) throw new Error('usage: node check.mjs SERVER_BASE_URL');

const client = new OpenAI({
  baseURL: `${server}/v1`,
  apiKey: process.env.OPENAI_API_KEY || 'sk-local-mode',
  maxRetries: 0,
  timeout: 300_000,
});

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function crc32(bytes) {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

// An 8-bit RGB PNG whose pixels come from pixel(x, y) -> [r, g, b].
function png(width, height, pixel) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);  // depth 8, RGB, no interlace
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    const start = y * (1 + width * 3);
    for (let x = 0; x < width; x++) rows.set(pixel(x, y), start + 1 + x * 3);
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)),
                        chunk('IEND', Buffer.alloc(0))]);
}

function expectPng(bytes, what) {
  assert.ok(bytes.subarray(0, 8).equals(PNG_SIGNATURE), `${what}: not a PNG`);
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

function expectImagesResponse(response, count, field) {
  assert.equal(typeof response.created, 'number', 'created is unix seconds');
  assert.ok(response.created > 1_600_000_000);
  assert.equal(response.data.length, count);
  for (const image of response.data) {
    assert.equal(typeof image[field], 'string', `data[].${field}`);
    assert.equal(typeof image.revised_prompt, 'string');
  }
}

async function checkGenerateBase64() {
  const response = await client.images.generate({
    model: 'sdxl-base', prompt: 'a red bicycle', n: 2, size: '64x64', response_format: 'b64_json',
  });
  expectImagesResponse(response, 2, 'b64_json');
  for (const image of response.data) {
    const size = expectPng(Buffer.from(image.b64_json, 'base64'), 'b64_json');
    assert.deepEqual(size, { width: 64, height: 64 });
  }
}

async function checkGenerateUrl() {
  const response = await client.images.generate({
    prompt: 'a green door', size: '128x64', response_format: 'url',
  });
  expectImagesResponse(response, 1, 'url');
  const fetched = await fetch(response.data[0].url);  // no key: the URL is public
  assert.equal(fetched.status, 200);
  assert.equal(fetched.headers.get('content-type'), 'image/png');
  const size = expectPng(Buffer.from(await fetched.arrayBuffer()), 'url');
  assert.deepEqual(size, { width: 128, height: 64 });
}

async function checkEdit() {
  const image = png(64, 64, (x, y) => [x * 4, y * 4, 128]);
  const mask = png(64, 64, (x) => (x < 32 ? [255, 255, 255] : [0, 0, 0]));
  const response = await client.images.edit({
    image: await toFile(image, 'image.png', { type: 'image/png' }),
    mask: await toFile(mask, 'mask.png', { type: 'image/png' }),
    prompt: 'a blue window',
    n: 1,
    size: '64x64',
    response_format: 'b64_json',
  });
  expectImagesResponse(response, 1, 'b64_json');
  expectPng(Buffer.from(response.data[0].b64_json, 'base64'), 'edit');
}

async function checkModels() {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.object, 'model');
    assert.equal(model.owned_by, 'diffusiond');
    assert.equal(typeof model.created, 'number');
    ids.push(model.id);
  }
  assert.ok(ids.includes('sd15-tiny'), `models: ${ids}`);
}

async function checkError() {
  await assert.rejects(
    client.images.generate({ prompt: 'x', size: '65x65' }),
    (error) => {
      assert.ok(error instanceof OpenAI.BadRequestError, `got ${error}`);
      assert.equal(error.status, 400);
      assert.equal(error.param, 'size');
      assert.equal(error.type, 'invalid_request_error');
      return true;
    });
}

const checks = { checkGenerateBase64, checkGenerateUrl, checkEdit, checkModels, checkError };
let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    console.log(`ok   ${name}`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}: ${error.stack || error}`);
  }
}
console.log(`${Object.keys(checks).length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

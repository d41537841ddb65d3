// JPEG through libjpeg-turbo. libjpeg reports fatal errors through error_exit, which must not
// return; we longjmp back into the calling frame (whose C++ objects all exist before setjmp) and
// throw from there. Warnings mean corrupt or truncated data (libjpeg would otherwise pad the
// picture with grey), so they are errors too, except the harmless "extraneous bytes" one.
#include <csetjmp>
#include <cstdio>
#include <cstdlib>

// jpeglib.h uses FILE and size_t without including their headers, so it comes after <cstdio>.
// clang-format off
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include "io/image_codec.h"
#include "util/error.h"

namespace dd::io {

namespace {

// Progressive files can hold thousands of tiny scans, each costing a full pass: cap them.
constexpr int kMaxProgressiveScans = 256;
constexpr size_t kMaxCommentBytes = 65533;  // a marker's payload length is 16 bits, minus 2

struct JpegErrors {
  jpeg_error_mgr manager;  // first, so libjpeg's pointer to it is also a pointer to us
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void fail_with_message(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void on_error_exit(j_common_ptr cinfo) { fail_with_message(cinfo); }

void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace output
  if (cinfo->err->msg_code == JWRN_EXTRANEOUS_DATA) return;
  fail_with_message(cinfo);
}

void limit_scans(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  auto* decompress = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (decompress->input_scan_number > kMaxProgressiveScans) {
    auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
    std::snprintf(errors->message, sizeof errors->message, "more than %d progressive scans",
                  kMaxProgressiveScans);
    std::longjmp(errors->jump, 1);
  }
}

void install_error_handlers(JpegErrors& errors) {
  jpeg_std_error(&errors.manager);
  errors.manager.error_exit = on_error_exit;
  errors.manager.emit_message = on_message;
  errors.message[0] = '\0';
}

struct DecompressGuard {
  jpeg_decompress_struct* cinfo;
  ~DecompressGuard() { jpeg_destroy_decompress(cinfo); }
};

struct CompressGuard {
  jpeg_compress_struct* cinfo;
  unsigned char** buffer;
  ~CompressGuard() {
    jpeg_destroy_compress(cinfo);
    std::free(*buffer);
  }
};

void check_encodable(const Image& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3)
    throw Error("encode_jpeg: image size and pixel buffer disagree");
  if (image.width > JPEG_MAX_DIMENSION || image.height > JPEG_MAX_DIMENSION)
    throw Error("encode_jpeg: image too large for JPEG");
}

}  // namespace

Image decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& what) {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  jpeg_progress_mgr progress{};
  Image image;
  install_error_handlers(errors);
  cinfo.err = &errors.manager;
  DecompressGuard guard{&cinfo};
  if (setjmp(errors.jump)) throw Error(what + ": corrupt JPEG (" + errors.message + ")");
  jpeg_create_decompress(&cinfo);
  progress.progress_monitor = limit_scans;
  cinfo.progress = &progress;
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  check_image_side(cinfo.image_width, cinfo.image_height, what);
  if (cinfo.image_width == 0 || cinfo.image_height == 0)
    throw Error(what + ": corrupt JPEG (its size is " + std::to_string(cinfo.image_width) + "x" +
                std::to_string(cinfo.image_height) + ")");
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK)
    throw Error(what + ": CMYK JPEG images are not supported (convert to RGB)");
  cinfo.out_color_space = JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (cinfo.output_components != 3) throw Error(what + ": unexpected JPEG pixel layout");
  image.width = static_cast<int>(cinfo.output_width);
  image.height = static_cast<int>(cinfo.output_height);
  image.rgb.resize(static_cast<size_t>(image.width) * image.height * 3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = image.rgb.data() + static_cast<size_t>(cinfo.output_scanline) * image.width * 3;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  return image;
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality, const std::string& comment) {
  check_encodable(image);
  if (quality < 1 || quality > 100)
    throw Error("quality: " + std::to_string(quality) + " is out of range (1..100)");
  jpeg_compress_struct cinfo{};
  JpegErrors errors{};
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  install_error_handlers(errors);
  cinfo.err = &errors.manager;
  CompressGuard guard{&cinfo, &buffer};
  if (setjmp(errors.jump)) throw Error(std::string("JPEG encoding failed: ") + errors.message);
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(image.width);
  cinfo.image_height = static_cast<JDIMENSION>(image.height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  // Longer texts would need several markers that no reader joins back together: skip them.
  if (!comment.empty() && comment.size() <= kMaxCommentBytes)
    jpeg_write_marker(&cinfo, JPEG_COM, reinterpret_cast<const JOCTET*>(comment.data()),
                      static_cast<unsigned int>(comment.size()));
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image.rgb.data() +
                                        static_cast<size_t>(cinfo.next_scanline) * image.width * 3);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  return std::vector<uint8_t>(buffer, buffer + size);
}

}  // namespace dd::io

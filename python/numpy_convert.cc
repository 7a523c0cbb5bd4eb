#include "numpy_convert.h"

#include <cstring>
#include <string>

#include "fool/core/error.h"

namespace fool::python {

py::object json_to_py(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

nlohmann::json py_to_json(const py::handle& o) {
  return nlohmann::json::parse(py::module_::import("json").attr("dumps")(o).cast<std::string>());
}

// N x C x H x W float32 copy of a batch.
py::array_t<float> batch_to_numpy(const ImageBatch& b) {
  const ImageShape& s = b.shape();
  py::array_t<float> out({static_cast<py::ssize_t>(b.size()), static_cast<py::ssize_t>(s.channels),
                          static_cast<py::ssize_t>(s.height), static_cast<py::ssize_t>(s.width)});
  std::memcpy(out.mutable_data(), b.data(), b.size() * s.size() * sizeof(float));
  return out;
}

// A float32 C-contiguous N x C x H x W array (the Python side has checked shape and range) as a batch.
ImageBatch numpy_to_batch(const FloatArray& x) {
  if (x.ndim() != 4) throw Error("images must be N x C x H x W, got " + std::to_string(x.ndim()) + " dimensions");
  ImageBatch b(static_cast<std::size_t>(x.shape(0)),
               {static_cast<int>(x.shape(1)), static_cast<int>(x.shape(2)), static_cast<int>(x.shape(3))});
  std::memcpy(b.data(), x.data(), static_cast<std::size_t>(x.size()) * sizeof(float));
  return b;
}

// An N x K float32 array as a Matrix.
Matrix numpy_to_matrix(const FloatArray& a) {
  if (a.ndim() != 2) throw Error("scores must be N x K, got " + std::to_string(a.ndim()) + " dimensions");
  Matrix m(static_cast<std::size_t>(a.shape(0)), static_cast<std::size_t>(a.shape(1)));
  std::memcpy(m.data(), a.data(), static_cast<std::size_t>(a.size()) * sizeof(float));
  return m;
}

py::array_t<float> matrix_to_numpy(const Matrix& m) {
  py::array_t<float> out({static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  std::memcpy(out.mutable_data(), m.data(), m.rows() * m.cols() * sizeof(float));
  return out;
}

// An 8-bit planar image as H x W x C uint8.
py::array_t<std::uint8_t> image_to_numpy(const Image8& img) {
  const int c = img.shape.channels, h = img.shape.height, w = img.shape.width;
  py::array_t<std::uint8_t> out({h, w, c});
  std::uint8_t* d = out.mutable_data();
  for (int ch = 0; ch < c; ++ch)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        d[(static_cast<std::size_t>(y) * w + x) * c + ch] = img.pixels[(static_cast<std::size_t>(ch) * h + y) * w + x];
  return out;
}

}  // namespace fool::python

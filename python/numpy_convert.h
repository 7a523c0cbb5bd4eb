#pragma once
// Conversions between the library's arrays and Python's (numpy arrays, JSON-able objects) for the
// module _fool. Copies, never views: the library's buffers do not outlive a call.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <nlohmann/json.hpp>

#include "fool/core/image.h"
#include "fool/model/classifier.h"

namespace fool::python {

namespace py = pybind11;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

py::object json_to_py(const nlohmann::json& j);
nlohmann::json py_to_json(const py::handle& o);
// N x C x H x W float32 copy of a batch.
py::array_t<float> batch_to_numpy(const ImageBatch& b);
// A float32 C-contiguous N x C x H x W array (the Python side has checked shape and range) as a batch.
ImageBatch numpy_to_batch(const FloatArray& x);
// An N x K float32 array as a Matrix.
Matrix numpy_to_matrix(const FloatArray& a);
py::array_t<float> matrix_to_numpy(const Matrix& m);
// An 8-bit planar image as H x W x C uint8.
py::array_t<std::uint8_t> image_to_numpy(const Image8& img);

}  // namespace fool::python

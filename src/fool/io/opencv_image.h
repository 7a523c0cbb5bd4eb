#pragma once
// Internal: conversion between OpenCV's interleaved BGR matrices and fool's planar RGB Image8.
// Only backend sources include this (it pulls in OpenCV).
#include <opencv2/core.hpp>

#include "fool/core/image.h"

namespace fool {

Image8 image_from_mat(const cv::Mat& m);  // 8-bit, 1 or 3 channels (BGR)
cv::Mat mat_from_image(const Image8& img);

}  // namespace fool

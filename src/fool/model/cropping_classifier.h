#pragma once
// Scoring images larger than a model's input, as the paper did for ImageNet: the probabilities
// averaged over 10 crops of the model's input size (4 corners and the centre, each also mirrored),
// or over the centre crop alone. A Classifier decorator: callers see one batched call as before.
#include <memory>

#include "fool/model/classifier.h"

namespace fool {

// Wraps `inner` so that every call is scored in chunks of at most `chunk` images (0: all at once),
// exactly as score_in_chunks does; MPI ranks score their share of a generation through it.
std::unique_ptr<Classifier> make_chunking_classifier(std::shared_ptr<Classifier> inner, std::size_t chunk);

// The crop offsets (top, left, mirrored) used for an image of `image` size and a model of `crop`.
struct Crop {
  int top, left;
  bool mirrored;
};
std::vector<Crop> crop_layout(const ImageShape& image, const ImageShape& crop, int crops);

// Wraps `inner` so that it takes images of `image` shape (at least the model's size; same channels,
// or gray for a colour model, copied to every channel) and scores each as the mean over `crops`
// (1 or 10) crops. `chunk` bounds the crops sent
// to the inner classifier in one call.
std::unique_ptr<Classifier> make_cropping_classifier(std::shared_ptr<Classifier> inner, ImageShape image, int crops,
                                                     std::size_t chunk = 200);

}  // namespace fool

#pragma once
// Class lists as people write them: "0,3,5-7", or label names ("tench,goldfish"), or both.
#include <string>
#include <vector>

namespace fool {

// The class indices of `text`, in the order given. Items are separated by commas; each is an index,
// a range "a-b", or (with `labels`) a label exactly as the model names it; the whole text is first
// tried as one label, so a label with commas in it can be given alone. Throws fool::Error
// "--classes: ..." naming the first item that is none of these, a class given twice, or a range of
// more than 2^20 classes. Indices are not checked against the model here.
std::vector<int> parse_class_list(const std::string& text, const std::vector<std::string>& labels = {});

// Whether every item of `text` is an index or a range (no label names): such a list can be parsed
// before the model is loaded.
bool class_list_is_numeric(const std::string& text);

}  // namespace fool

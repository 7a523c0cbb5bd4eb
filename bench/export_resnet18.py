# Writes torchvision's ResNet-18 (random weights, seeded; the speed does not depend on them) as ONNX
# with a softmax output and a dynamic batch axis, for the ImageNet-sized MPI benchmark.
# Usage: python3 bench/export_resnet18.py OUT.onnx   (needs Debian's python3-torchvision)
import sys

import torch
import torchvision

torch.manual_seed(1)
net = torchvision.models.resnet18(num_classes=1000).eval()


class WithSoftmax(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return torch.softmax(self.inner(x), 1)


torch.onnx.export(WithSoftmax(net), torch.rand(2, 3, 224, 224), sys.argv[1], input_names=["input"],
                  output_names=["probs"], dynamic_axes={"input": {0: "N"}, "probs": {0: "N"}}, opset_version=13)

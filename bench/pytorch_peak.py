#!/usr/bin/env python3
# Peak resident memory of PyTorch eager scoring a torchvision model: the reference for fool's peak
# memory goal (docs/results.md). Usage: /usr/bin/python3 bench/pytorch_peak.py resnet50 100
import sys, torch, torchvision, resource
torch.set_num_threads(2)
name, batch = sys.argv[1], int(sys.argv[2])
m = getattr(torchvision.models, name)().eval()
x = torch.rand(batch, 3, 224, 224)
with torch.no_grad():
    for _ in range(2): m(x).softmax(1)
print(name, batch, "peak MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

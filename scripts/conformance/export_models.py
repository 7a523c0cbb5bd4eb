#!/usr/bin/env python3
"""Exports torchvision 0.14's classification architectures to ONNX with PyTorch 1.13's own exporter,
with random but peaked weights, and writes beside each model the input images (8-bit PNGs) and
PyTorch's probabilities for them (float32, and float64 for how well-conditioned the case is): the
reference fool's backends are compared with. How far PyTorch's own float32 computations (eager, eager
without oneDNN, TorchScript-frozen with batch norm folded) are from float64 is recorded too: on an
ill-conditioned case they differ from each other by more than 1e-4.

Peaked weights: batch-norm running statistics are re-estimated on random images and the affine
parameters (batch-norm and layer-norm) drawn at random, so normalisation layers are not the
identity; the last layer is then scaled so that the mean top-1 probability over the reference
images is about 0.9. A near-uniform softmax (random weights with identity-like batch norm) would
let wrong arithmetic pass a 1e-4 comparison.

One case is one directory OUT/<family>-op<opset>-<variant>/ with
  model.onnx            (model.onnx.data as well for the external-data variant)
  image_<i>.png         the inputs: 8-bit pixels; the model sees byte / 255 (fool's [0,1] images)
  expected.json         family, architecture, opset, variant, input shape, PyTorch's N x K
                        probabilities (softmax of the logits, or the softmax head's output)

Variants (each is torchvision's model plus one change):
  logits     the model as torchvision makes it, dynamic batch axis
  softmax    a Softmax head
  fixed      the batch axis fixed to 1 (as torch.onnx.export writes it without dynamic_axes)
  gray       one input channel (the first convolution's weights summed over RGB)
  meanstd    ImageNet mean/std baked into the graph (Sub and Div by [1,C,1,1] constants)
  meanimage  a per-pixel mean image subtracted in the graph (Sub of a [1,C,H,W] constant)
  external   the weights in an ONNX external-data file (model.onnx.data), as PyTorch saves
             models over 2 GB

Usage:
  export_models.py --out DIR [--families a,b] [--opsets 11,13,14,17] [--variants logits,softmax]
  export_models.py --out DIR --ci          one case per family, the variants and opsets spread over them
  export_models.py --list                  prints the cases that would be exported
Cases already exported (expected.json and model.onnx present, same script) are kept.
"""
import argparse
import copy
import hashlib
import json
import math
import os
import sys
import time
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")

FAMILIES = [
    # family, torchvision constructor, input size (the smallest the architecture and its ONNX export
    # allow: AlexNet and VGG need 224 for their 6x6 / 7x7 adaptive pooling to export; ViT and Swin
    # are built for 224)
    ("alexnet", "alexnet", 224),
    ("vgg", "vgg11_bn", 224),
    ("resnet", "resnet18", 64),
    ("resnext", "resnext50_32x4d", 64),
    ("wide_resnet", "wide_resnet50_2", 64),
    ("squeezenet", "squeezenet1_1", 64),
    ("densenet", "densenet121", 64),
    ("googlenet", "googlenet", 64),
    ("inception", "inception_v3", 96),
    ("shufflenet", "shufflenet_v2_x0_5", 64),
    ("mobilenet_v2", "mobilenet_v2", 64),
    ("mobilenet_v3", "mobilenet_v3_small", 64),
    ("mnasnet", "mnasnet0_5", 64),
    ("efficientnet", "efficientnet_b0", 64),
    ("efficientnet_v2", "efficientnet_v2_s", 64),
    ("regnet_x", "regnet_x_400mf", 64),
    ("regnet_y", "regnet_y_400mf", 64),
    ("convnext", "convnext_tiny", 64),
    ("vit", "vit_b_16", 224),
    ("swin", "swin_t", 224),
]
OPSETS = [11, 13, 14, 17]
VARIANTS = ["logits", "softmax", "fixed", "gray", "meanstd", "meanimage", "external"]
NUM_CLASSES = 10
NUM_IMAGES = 4
TARGET_TOP1 = 0.9
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def ci_cases():
    """One case per family; opsets and variants rotate so that CI covers every one of them."""
    cases = []
    for i, (family, _, _) in enumerate(FAMILIES):
        cases.append((family, OPSETS[i % len(OPSETS)], VARIANTS[i % len(VARIANTS)]))
    return cases


def case_name(family, opset, variant):
    return f"{family}-op{opset}-{variant}"


def script_hash():
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


class Wrapped(torch.nn.Module):
    """torchvision's model with the variant's preprocessing before it and softmax after it."""

    def __init__(self, net, channels, size, variant, mean_image):
        super().__init__()
        self.net = net
        self.variant = variant
        c = channels
        mean = MEAN if c == 3 else [sum(MEAN) / 3]
        std = STD if c == 3 else [sum(STD) / 3]
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1))
        self.register_buffer("mean_image", mean_image)

    def forward(self, x):
        if self.variant == "meanstd":
            x = (x - self.mean) / self.std
        elif self.variant == "meanimage":
            x = x - self.mean_image
        y = self.net(x)
        if self.variant == "softmax":
            y = torch.softmax(y, dim=1)
        return y


def to_gray(net):
    """Replaces the first 3-channel convolution by a 1-channel one (weights summed over RGB)."""
    for name, m in net.named_modules():
        if isinstance(m, torch.nn.Conv2d) and m.in_channels == 3:
            conv = torch.nn.Conv2d(1, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                                   m.bias is not None)
            with torch.no_grad():
                conv.weight.copy_(m.weight.sum(dim=1, keepdim=True))
                if m.bias is not None:
                    conv.bias.copy_(m.bias)
            parent = net
            parts = name.split(".")
            for p in parts[:-1]:
                parent = getattr(parent, p)
            setattr(parent, parts[-1], conv)
            return net
    raise RuntimeError("no 3-channel convolution to make gray")


def last_layer(net):
    """The module that produces the class scores (the last Linear, or SqueezeNet's last Conv2d)."""
    found = None
    for m in net.modules():
        if isinstance(m, torch.nn.Linear) and m.out_features == NUM_CLASSES:
            found = m
        if isinstance(m, torch.nn.Conv2d) and m.out_channels == NUM_CLASSES:
            found = m
    if found is None:
        raise RuntimeError("no layer with %d outputs" % NUM_CLASSES)
    return found


def make_peaked(wrapped, net, gen, channels, size):
    """Draws the normalisation layers' affine parameters at random, then re-estimates batch-norm
    running statistics on random images (so that they match the activations the affine parameters
    produce; perturbing them afterwards makes deep residual networks blow up)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm, torch.nn.GroupNorm)):
                if m.weight is not None:
                    m.weight.copy_(0.6 + 0.8 * torch.rand(m.weight.shape, generator=gen))
                    m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
            # ConvNeXt's layer scale starts at 1e-6, which makes every block an identity.
            if hasattr(m, "layer_scale") and isinstance(m.layer_scale, torch.nn.Parameter):
                m.layer_scale.copy_(0.1 + 0.2 * torch.rand(m.layer_scale.shape, generator=gen))
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average over the calibration batches
    if bns:
        wrapped.train()
        with torch.no_grad():
            for _ in range(2):
                wrapped(torch.rand(8, channels, size, size, generator=gen))
            # A channel that is almost constant on random images (e.g. after a dead ReLU) would be
            # divided by sqrt(eps) and amplify float32 rounding far beyond any real model's: floor
            # the variances so the test measures arithmetic, not ill-conditioning.
            for bn in bns:
                bn.running_var.clamp_(min=0.05 * bn.running_var.mean().item() + 1e-6)
    wrapped.eval()


def scale_to_peak(wrapped, net, x):
    """Scales the last layer (weights and bias) so that softmax(logits) has mean top-1 TARGET_TOP1."""
    layer = last_layer(net)
    if not layer.weight.detach().any():  # ViT's head starts at zero
        with torch.no_grad():
            layer.weight.normal_(0.0, 0.02)
    variant = wrapped.variant
    wrapped.variant = "logits" if variant == "softmax" else variant
    with torch.no_grad():
        logits = wrapped(x).double()
    wrapped.variant = variant
    spread = (logits - logits.mean(dim=1, keepdim=True)).abs().max().item()
    if not math.isfinite(spread) or spread == 0.0:
        raise RuntimeError("degenerate logits (spread %r)" % spread)

    def top1(a):
        return torch.softmax(a * logits, dim=1).max(dim=1).values.mean().item()

    lo, hi = 0.0, 1.0
    while top1(hi) < TARGET_TOP1:
        hi *= 2.0
        if hi > 1e12:
            raise RuntimeError("cannot make the outputs peaked")
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if top1(mid) < TARGET_TOP1:
            lo = mid
        else:
            hi = mid
    with torch.no_grad():
        layer.weight.mul_(hi)
        if layer.bias is not None:
            layer.bias.mul_(hi)


def pytorch_float32_paths(wrapped, x, variant, probs64):
    """How far PyTorch's other correct float32 computations of the same network are from its
    float64 result: one image at a time, without oneDNN, and frozen by TorchScript (batch norm
    folded into the convolutions' weights, as inference engines, fool's two backends among them,
    do). Folding rounds differently; on an ill-conditioned case that alone moves probabilities by
    more than 1e-4 (measured on inception-op11-logits: 1.6e-3). A path PyTorch cannot take is left
    out."""
    def probs(y):
        y = y.detach()
        return (y if variant == "softmax" else torch.softmax(y, dim=1)).double().numpy()

    paths = {}
    with torch.no_grad():
        # oneDNN picks its convolution algorithm by batch size: one image at a time rounds
        # differently (measured on resnet-op14-gray: 3.5e-3 from the batch of 4).
        one_by_one = np.concatenate([probs(wrapped(x[i:i + 1])) for i in range(x.shape[0])])
        paths["eager_one_image_at_a_time"] = float(np.abs(one_by_one - probs64).max())
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        paths["eager_without_onednn"] = float(np.abs(probs(wrapped(x)) - probs64).max())
    try:
        with torch.no_grad():
            frozen = torch.jit.freeze(torch.jit.trace(copy.deepcopy(wrapped).eval(), x, check_trace=False))
            paths["torchscript_frozen"] = float(np.abs(probs(frozen(x)) - probs64).max())
    except Exception:  # noqa: BLE001 - tracing is not possible for every architecture
        pass
    return paths


def export_case(out_dir, family, opset, variant, force=False):
    import onnx
    import torchvision
    from PIL import Image

    ctor, size = next((c, s) for f, c, s in FAMILIES if f == family)
    name = case_name(family, opset, variant)
    case_dir = os.path.join(out_dir, name)
    expected_path = os.path.join(case_dir, "expected.json")
    stamp = script_hash()
    model_path = os.path.join(case_dir, "model.onnx")
    if not force and os.path.exists(expected_path) and os.path.exists(model_path):
        with open(expected_path) as f:
            if json.load(f).get("script") == stamp:
                return "kept"
    os.makedirs(case_dir, exist_ok=True)
    t0 = time.time()
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    channels = 1 if variant == "gray" else 3

    kwargs = {"weights": None, "num_classes": NUM_CLASSES}
    if ctor in ("googlenet", "inception_v3"):
        kwargs.update(init_weights=True, aux_logits=False)
    net = getattr(torchvision.models, ctor)(**kwargs)
    if channels == 1:
        net = to_gray(net)
    mean_image = torch.rand(1, channels, size, size, generator=gen) * 0.5 + 0.25
    wrapped = Wrapped(net, channels, size, variant, mean_image)
    make_peaked(wrapped, net, gen, channels, size)

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(NUM_IMAGES, channels, size, size), dtype=np.uint8)
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0)
    scale_to_peak(wrapped, net, x)

    # With autograd on, as during the export: under no_grad PyTorch 1.13 takes fast paths (e.g.
    # nn.MultiheadAttention's fused kernel) that the exporter cannot export.
    y = wrapped(x).detach()
    probs = y if variant == "softmax" else torch.softmax(y, dim=1)
    probs = probs.double().numpy()
    top1 = probs.max(axis=1)
    # The same network in float64: how far PyTorch's own float32 result is from the exact one.
    # Deep random networks can be ill-conditioned enough that two correct float32 implementations
    # differ by more than 1e-4; fool then passes if it is as close to the float64 result as
    # PyTorch's float32 is (plus 1e-4).
    w64 = copy.deepcopy(wrapped).double()
    y64 = w64(x.double()).detach()
    probs64 = (y64 if variant == "softmax" else torch.softmax(y64, dim=1)).numpy()
    del w64
    float32_paths = pytorch_float32_paths(wrapped, x, variant, probs64)
    float32_paths["eager"] = float(np.abs(probs - probs64).max())
    float32_error = max(float32_paths.values())

    dummy = x[:1] if variant == "fixed" else x
    dynamic = None if variant == "fixed" else {"input": {0: "N"}, "output": {0: "N"}}
    torch.onnx.export(wrapped, dummy, model_path, opset_version=opset, input_names=["input"],
                      output_names=["output"], dynamic_axes=dynamic, do_constant_folding=True)
    if variant == "external":
        m = onnx.load(model_path)
        data_name = "model.onnx.data"
        if os.path.exists(os.path.join(case_dir, data_name)):
            os.remove(os.path.join(case_dir, data_name))
        onnx.save_model(m, model_path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=0)

    images = []
    for i in range(NUM_IMAGES):
        file = "image_%d.png" % i
        arr = pixels[i].transpose(1, 2, 0)
        img = Image.fromarray(arr[:, :, 0], "L") if channels == 1 else Image.fromarray(arr, "RGB")
        img.save(os.path.join(case_dir, file))
        images.append(file)

    expected = {
        "family": family,
        "architecture": ctor,
        "opset": opset,
        "variant": variant,
        "input": [channels, size, size],
        "images": images,
        "probabilities": probs.tolist(),
        "probabilities_float64": probs64.tolist(),
        "pytorch_float32_error": float32_error,
        "pytorch_float32_paths": float32_paths,
        "top1": top1.tolist(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "script": stamp,
        "export_seconds": round(time.time() - t0, 2),
    }
    tmp = expected_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(expected, f)
    os.replace(tmp, expected_path)
    return "exported"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", help="directory for the cases")
    p.add_argument("--families", default=",".join(f for f, _, _ in FAMILIES))
    p.add_argument("--opsets", default=",".join(map(str, OPSETS)))
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--ci", action="store_true", help="one case per family (the CI test's set)")
    p.add_argument("--list", action="store_true", help="print the case names and exit")
    p.add_argument("--force", action="store_true", help="export again even if the case exists")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: its default)")
    a = p.parse_args()
    families = a.families.split(",")
    known = [f for f, _, _ in FAMILIES]
    for f in families:
        if f not in known:
            sys.exit("export_models.py: unknown family '%s' (known: %s)" % (f, ", ".join(known)))
    if a.ci:
        cases = [c for c in ci_cases() if c[0] in families]
    else:
        opsets = [int(o) for o in a.opsets.split(",")]
        variants = a.variants.split(",")
        for v in variants:
            if v not in VARIANTS:
                sys.exit("export_models.py: unknown variant '%s' (known: %s)" % (v, ", ".join(VARIANTS)))
        cases = [(f, o, v) for f in families for o in opsets for v in variants]
    if a.list:
        for c in cases:
            print(case_name(*c))
        return
    if not a.out:
        sys.exit("export_models.py: --out is required")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    failed = 0
    for c in cases:
        name = case_name(*c)
        try:
            what = export_case(a.out, *c, force=a.force)
            print("%-40s %s" % (name, what), flush=True)
        except Exception as e:  # one line per case that the exporter refuses
            failed += 1
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            print("%-40s export failed: %s" % (name, msg[:200]), flush=True)
            with open(os.path.join(a.out, name + ".export-failed"), "w") as f:
                f.write(msg + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

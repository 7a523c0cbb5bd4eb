#!/usr/bin/env python3
"""Builds the Caffe networks fool's Caffe tests convert, from caffe_subset.proto (protoc
--python_out; PYTHONPATH must hold caffe_subset_pb2.py), with seeded random weights scaled so that
the softmax is peaked (a flat softmax would hide most conversion errors).

  make_test_nets.py OUT_DIR

writes into OUT_DIR, each as deploy .prototxt + .caffemodel:
  lenet_v1   the paper's MNIST LeNet (conv20-pool-conv50-pool-ip500-relu-ip10-softmax) in the 2014
             V1 form ('layers', enum types, legacy 4-D blobs), deploy input/input_dim;
             mnist_mean.binaryproto (1x1x28x28), used with scale 0.00390625
  lenet_v2   the same weights in the current form ('layer', Input layer, BlobShape blobs)
  alexnet_small  an AlexNet-style colour net: grouped convolutions, LRN, max pooling whose output
             size Caffe rounds up, dropout, in-place ReLUs; 3x69x69 input with a 3x75x75
             alexnet_mean.binaryproto (centre-cropped, as Caffe does)
  lenet_small_v1  lenet_v1 with 16 units in ip1 (small enough for the fuzz target's seed corpus)
  mixnet     the other supported layers: Concat, Eltwise SUM (with coeff)/PROD/MAX, BatchNorm + Scale,
             padded AVE pooling rounded up, Sigmoid, TanH, leaky ReLU, Flatten, global pooling
"""
import os
import sys

import numpy as np
from google.protobuf import text_format

import caffe_subset_pb2 as pb

V1 = pb.V1LayerParameter


def blob(values, shape, legacy=False):
    b = pb.BlobProto()
    values = np.asarray(values, dtype=np.float32)
    assert values.size == int(np.prod(shape)), (values.size, shape)
    if legacy:
        dims = [1] * (4 - len(shape)) + list(shape)
        b.num, b.channels, b.height, b.width = dims
    else:
        b.shape.dim.extend(shape)
    b.data.extend(values.ravel().tolist())
    return b


def write(out, name, net, weights):
    """net: NetParameter without blobs (the prototxt); weights: the same net with blobs."""
    with open(os.path.join(out, name + ".prototxt"), "w") as f:
        f.write(text_format.MessageToString(net))
    with open(os.path.join(out, name + ".caffemodel"), "wb") as f:
        f.write(weights.SerializeToString())


def he(rng, shape, fan_in, gain=1.0):
    return rng.standard_normal(shape).astype(np.float32) * np.float32(gain * np.sqrt(2.0 / fan_in))


def lenet_weights(rng, ip1=500):
    return {
        "conv1": [he(rng, (20, 1, 5, 5), 25), rng.uniform(-0.1, 0.1, 20)],
        "conv2": [he(rng, (50, 20, 5, 5), 500), rng.uniform(-0.1, 0.1, 50)],
        "ip1": [he(rng, (ip1, 800), 800), rng.uniform(-0.1, 0.1, ip1)],
        # A large last layer: logits several units apart, a peaked softmax.
        "ip2": [he(rng, (10, ip1), ip1, gain=12.0), rng.uniform(-1, 1, 10)],
    }


def lenet_v1(out, w, file_name="lenet_v1"):
    net = pb.NetParameter(name="LeNet")
    net.input.append("data")
    net.input_dim.extend([64, 1, 28, 28])
    spec = [
        ("conv1", V1.CONVOLUTION, "data", "conv1"),
        ("pool1", V1.POOLING, "conv1", "pool1"),
        ("conv2", V1.CONVOLUTION, "pool1", "conv2"),
        ("pool2", V1.POOLING, "conv2", "pool2"),
        ("ip1", V1.INNER_PRODUCT, "pool2", "ip1"),
        ("relu1", V1.RELU, "ip1", "ip1"),
        ("ip2", V1.INNER_PRODUCT, "ip1", "ip2"),
        ("prob", V1.SOFTMAX, "ip2", "prob"),
    ]
    for name, t, bottom, top in spec:
        l = net.layers.add(name=name, type=t)
        l.bottom.append(bottom)
        l.top.append(top)
        if name in ("conv1", "conv2"):
            l.convolution_param.num_output = 20 if name == "conv1" else 50
            l.convolution_param.kernel_size.append(5)
            l.convolution_param.stride.append(1)
        elif t == V1.POOLING:
            l.pooling_param.pool = pb.PoolingParameter.MAX
            l.pooling_param.kernel_size = 2
            l.pooling_param.stride = 2
        elif t == V1.INNER_PRODUCT:
            l.inner_product_param.num_output = len(w["ip1"][1]) if name == "ip1" else 10
    weights = pb.NetParameter()
    weights.CopyFrom(net)
    for l in weights.layers:
        if l.name in w:
            wt, b = w[l.name]
            l.blobs.append(blob(wt, wt.shape, legacy=True))
            l.blobs.append(blob(b, (len(b),), legacy=True))
    write(out, file_name, net, weights)


def lenet_v2(out, w):
    net = pb.NetParameter(name="LeNet")
    data = net.layer.add(name="data", type="Input")
    data.top.append("data")
    data.input_param.shape.add().dim.extend([1, 1, 28, 28])

    def add(name, type_, bottom, top):
        l = net.layer.add(name=name, type=type_)
        l.bottom.append(bottom)
        l.top.append(top)
        return l

    for name, bottom, n in (("conv1", "data", 20), ("conv2", "pool1", 50)):
        l = add(name, "Convolution", bottom, name)
        l.convolution_param.num_output = n
        l.convolution_param.kernel_size.append(5)
        p = add("pool" + name[-1], "Pooling", name, "pool" + name[-1])
        p.pooling_param.pool = pb.PoolingParameter.MAX
        p.pooling_param.kernel_size = 2
        p.pooling_param.stride = 2
    add("ip1", "InnerProduct", "pool2", "ip1").inner_product_param.num_output = 500
    add("relu1", "ReLU", "ip1", "ip1")
    add("ip2", "InnerProduct", "ip1", "ip2").inner_product_param.num_output = 10
    add("prob", "Softmax", "ip2", "prob")
    weights = pb.NetParameter()
    weights.CopyFrom(net)
    for l in weights.layer:
        if l.name in w:
            for v in w[l.name]:
                l.blobs.append(blob(v, np.shape(v)))
    write(out, "lenet_v2", net, weights)


def mean_blob(path, values):
    c, h, w = values.shape
    b = blob(values, (1, c, h, w), legacy=True)
    with open(path, "wb") as f:
        f.write(b.SerializeToString())


class V2Net:
    """A current-form net under construction, with the weights kept beside it."""

    def __init__(self, name, input_shape):
        self.net = pb.NetParameter(name=name)
        l = self.net.layer.add(name="data", type="Input")
        l.top.append("data")
        l.input_param.shape.add().dim.extend(input_shape)
        self.blobs = {}

    def add(self, name, type_, bottoms, top, blobs=()):
        l = self.net.layer.add(name=name, type=type_)
        l.bottom.extend([bottoms] if isinstance(bottoms, str) else bottoms)
        l.top.append(top)
        if blobs:
            self.blobs[name] = blobs
        return l

    def conv(self, rng, name, bottom, cin, cout, k, stride=1, pad=0, group=1, gain=1.0):
        l = self.add(name, "Convolution", bottom, name,
                     [he(rng, (cout, cin // group, k, k), cin // group * k * k, gain), rng.uniform(-0.1, 0.1, cout)])
        p = l.convolution_param
        p.num_output = cout
        p.kernel_size.append(k)
        if stride != 1:
            p.stride.append(stride)
        if pad:
            p.pad.append(pad)
        if group != 1:
            p.group = group
        return l

    def pool(self, name, bottom, k, s, pad=0, ave=False, global_pooling=False):
        l = self.add(name, "Pooling", bottom, name)
        p = l.pooling_param
        p.pool = pb.PoolingParameter.AVE if ave else pb.PoolingParameter.MAX
        if global_pooling:
            p.global_pooling = True
        else:
            p.kernel_size = k
            p.stride = s
            if pad:
                p.pad = pad
        return l

    def ip(self, rng, name, bottom, fan_in, n, gain=1.0):
        l = self.add(name, "InnerProduct", bottom, name, [he(rng, (n, fan_in), fan_in, gain), rng.uniform(-0.1, 0.1, n)])
        l.inner_product_param.num_output = n
        return l

    def write(self, out, file_name):
        weights = pb.NetParameter()
        weights.CopyFrom(self.net)
        for l in weights.layer:
            for v in self.blobs.get(l.name, ()):
                l.blobs.append(blob(v, np.shape(v)))
        write(out, file_name, self.net, weights)


def alexnet_small(out, rng):
    n = V2Net("AlexNetSmall", [10, 3, 69, 69])
    # Inputs are 0..255 minus the mean (no scale), as in Caffe's AlexNet: activations of ~100 make
    # LRN matter.
    n.conv(rng, "conv1", "data", 3, 16, 7, stride=2)        # 32x32
    n.add("relu1", "ReLU", "conv1", "conv1")
    lrn = n.add("norm1", "LRN", "conv1", "norm1").lrn_param
    lrn.local_size, lrn.alpha, lrn.beta = 5, 1e-4, 0.75
    n.pool("pool1", "norm1", 3, 2)                          # Caffe: 16 (rounded up); floor would give 15
    n.conv(rng, "conv2", "pool1", 16, 32, 5, pad=2, group=2)
    n.add("relu2", "ReLU", "conv2", "conv2")
    lrn = n.add("norm2", "LRN", "conv2", "norm2").lrn_param
    # k stays at its default 1, as in AlexNet: OpenCV 4.6's Caffe importer ignores LRN's k (it
    # always adds 1), so the reference would be wrong for k != 1; caffe_convert_test checks k != 1
    # against a direct computation instead.
    lrn.local_size, lrn.alpha, lrn.beta = 3, 5e-4, 0.75
    n.pool("pool2", "norm2", 3, 2)                          # 8 (floor: 7)
    n.conv(rng, "conv3", "pool2", 32, 48, 3, pad=1)
    n.add("relu3", "ReLU", "conv3", "conv3")
    n.conv(rng, "conv4", "conv3", 48, 48, 3, pad=1, group=2)
    n.add("relu4", "ReLU", "conv4", "conv4")
    n.conv(rng, "conv5", "conv4", 48, 32, 3, pad=1, group=2)
    n.add("relu5", "ReLU", "conv5", "conv5")
    n.pool("pool5", "conv5", 3, 2)                          # 4 (floor: 3)
    n.ip(rng, "fc6", "pool5", 32 * 4 * 4, 64, gain=0.02)
    n.add("relu6", "ReLU", "fc6", "fc6")
    n.add("drop6", "Dropout", "fc6", "fc6").dropout_param.dropout_ratio = 0.5
    n.ip(rng, "fc7", "fc6", 64, 64)
    n.add("relu7", "ReLU", "fc7", "fc7")
    n.add("drop7", "Dropout", "fc7", "fc7")
    n.ip(rng, "fc8", "fc7", 64, 10, gain=6.0)
    n.add("prob", "Softmax", "fc8", "prob")
    n.write(out, "alexnet_small")


def mixnet(out, rng):
    n = V2Net("MixNet", [1, 3, 21, 21])
    n.conv(rng, "conv_a", "data", 3, 8, 3, pad=1)
    n.conv(rng, "conv_b", "data", 3, 8, 3, pad=1)
    leaky = n.add("leaky", "ReLU", "conv_a", "conv_a")
    leaky.relu_param.negative_slope = 0.1
    n.add("sig", "Sigmoid", "conv_b", "sig")
    n.add("tanh", "TanH", "conv_b", "tanh")
    s = n.add("sum", "Eltwise", ["conv_a", "sig", "tanh"], "sum").eltwise_param
    s.operation = pb.EltwiseParameter.SUM
    s.coeff.extend([1.0, -0.5, 2.0])
    n.add("prod", "Eltwise", ["sig", "tanh"], "prod").eltwise_param.operation = pb.EltwiseParameter.PROD
    n.add("max", "Eltwise", ["conv_a", "tanh"], "max").eltwise_param.operation = pb.EltwiseParameter.MAX
    n.add("cat", "Concat", ["sum", "prod", "max"], "cat")   # 24 channels
    c = 24
    n.add("bn", "BatchNorm", "cat", "cat",
          [rng.uniform(-1, 1, c) * 3.0, rng.uniform(0.5, 2, c) * 3.0, np.array([3.0])]).batch_norm_param.eps = 1e-5
    sc = n.add("scale", "Scale", "cat", "cat", [rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c)])
    sc.scale_param.bias_term = True
    n.pool("avg", "cat", 3, 2, pad=1, ave=True)             # Caffe: 11 (ceil, clipped by pad rule)
    n.conv(rng, "conv_c", "avg", 24, 16, 3)
    n.add("relu_c", "ReLU", "conv_c", "conv_c")
    n.pool("gap", "conv_c", 0, 0, global_pooling=True)
    n.add("flat", "Flatten", "gap", "flat")
    n.ip(rng, "fc", "flat", 16, 7, gain=10.0)
    n.add("prob", "Softmax", "fc", "prob")
    n.write(out, "mixnet")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.RandomState(20150601)
    w = lenet_weights(rng)
    lenet_v1(out, w)
    lenet_v2(out, w)
    yy, xx = np.mgrid[0:28, 0:28]
    digit_mean = 140.0 * np.exp(-((yy - 13.5) ** 2 + (xx - 13.5) ** 2) / (2 * 6.0 ** 2))
    mean_blob(os.path.join(out, "mnist_mean.binaryproto"), digit_mean[None].astype(np.float32))
    alexnet_small(out, rng)
    yy, xx = np.mgrid[0:75, 0:75]
    colour_mean = np.stack([104 + 20 * np.sin(xx / 9.0), 117 + 15 * np.cos(yy / 7.0), 123 + 10 * np.sin((xx + yy) / 11.0)])
    mean_blob(os.path.join(out, "alexnet_mean.binaryproto"), colour_mean.astype(np.float32))
    mixnet(out, rng)
    # A V1 LeNet with a 16-unit ip1 (70 kB of weights): the fuzz target's seed.
    lenet_v1(out, lenet_weights(rng, ip1=16), "lenet_small_v1")


if __name__ == "__main__":
    main()

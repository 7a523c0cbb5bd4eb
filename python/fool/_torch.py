"""fool.torch_classifier: a torch.nn.Module as a fool classifier with autograd gradients.
Imported only when it is used, so that `import fool` does not need torch."""

import numpy as np


class TorchClassifier:
    """Calls `module(preprocess(x))` on x float32 N x C x H x W in [0, 1] (a numpy array, moved to
    `device`), without gradients for scoring and with autograd for gradients(x, targets). The
    module is put in eval mode. Outputs "logits" get a softmax (inside torch, so that gradients are
    those of the probabilities)."""

    def __init__(self, module, preprocess=None, device="cpu", outputs="logits"):
        import torch
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, not {type(module).__name__}")
        if preprocess is not None and not callable(preprocess):
            raise TypeError(f"preprocess must be callable, not {type(preprocess).__name__}")
        if outputs not in ("logits", "probabilities"):
            raise ValueError(f"unknown outputs '{outputs}' (known: logits, probabilities)")
        self._torch = torch
        self.device = torch.device(device)
        self.module = module.eval().to(self.device)
        self.preprocess = preprocess
        self.outputs = outputs

    def _forward(self, x):
        if self.preprocess is not None:
            x = self.preprocess(x)
        out = self.module(x)
        if not isinstance(out, self._torch.Tensor) or out.dim() != 2:
            return out  # the checks name what it returned
        return self._torch.softmax(out.float(), dim=1) if self.outputs == "logits" else out.float()

    def __call__(self, x):
        with self._torch.no_grad():
            out = self._forward(self._torch.from_numpy(np.ascontiguousarray(x)).to(self.device))
        return out.cpu().numpy() if isinstance(out, self._torch.Tensor) else out

    def gradients(self, x, targets):
        """(N x K probabilities, N x C x H x W gradients of p[i, targets[i]] with respect to x[i])."""
        torch = self._torch
        xt = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).requires_grad_(True)
        p = self._forward(xt)
        idx = torch.as_tensor(np.asarray(targets), device=self.device, dtype=torch.long)
        # Images do not interact in eval mode, so the sum's gradient is each image's own.
        chosen = p.gather(1, idx.view(-1, 1)).sum()
        (g,) = torch.autograd.grad(chosen, xt)
        return p.detach().cpu().numpy(), g.detach().cpu().numpy()


def torch_classifier(module, preprocess=None, device="cpu", image_shape=None, outputs="logits", labels=None):
    from . import FunctionClassifier
    t = TorchClassifier(module, preprocess=preprocess, device=device, outputs=outputs)
    name = "python:torch:" + type(module).__name__
    # The wrapper already turned logits into probabilities.
    return FunctionClassifier(t, image_shape=image_shape, outputs="probabilities", labels=labels,
                              gradients=t.gradients, name=name)

#!/usr/bin/python3
"""Train a small CNN on scikit-learn's 8x8 digits and capture real tensors for `mls inspect`.

Writes data/cnn_digits.h5 (float32 datasets, < 5 MB): for each conv layer, on one fixed
batch of training images, at two points of training (phase "early": after epoch 1, while
the loss still falls fast; phase "final": after the last epoch),

  /<phase>/<layer>/activation   the conv input          (NCHW)
  /<phase>/<layer>/weight       the conv weight         (OIHW)
  /<phase>/<layer>/error        dL/d(conv output), the back-propagated error (NCHW)
  /<phase>/<layer>/weight_grad  dL/d(weight)            (OIHW)

with attributes role, layer, phase, layout, description on each dataset, the epoch and
accuracies at capture on each phase group, and the training record (final accuracies,
epochs, seed, hyper-parameters) on the root group.

Network (numpy only, no framework): conv1 1->8 3x3 pad 1, ReLU, 2x2 max pool,
conv2 8->16 3x3 pad 1, ReLU, flatten (16*4*4), fully connected 256->10, softmax
cross-entropy. SGD with momentum, deterministic seed. The training is real: the
script prints train/test accuracy per epoch and stores the final ones.

Arithmetic is float64 (tensors are stored as float32). The file is reproducible
on one machine; another BLAS may differ in the last bits, which is why the data
file itself is committed.

Usage: /usr/bin/python3 scripts/make_cnn_tensors.py [-o data/cnn_digits.h5] [--epochs 30] [--seed 0]
       /usr/bin/python3 scripts/make_cnn_tensors.py --gradcheck   (checks the backward pass numerically)
Needs python3-numpy, python3-h5py, python3-sklearn (scripts/install-deps.sh).
"""
import argparse
import os
import sys

import numpy as np


def im2col(x, k, pad):
    """x: N,C,H,W -> cols: N, H_out*W_out, C*k*k (stride 1)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = h + 2 * pad - k + 1, w + 2 * pad - k + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))  # N,C,ho,wo,k,k
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n, ho * wo, c * k * k), ho, wo


def col2im(dcols, x_shape, k, pad, ho, wo):
    n, c, h, w = x_shape
    d = dcols.reshape(n, ho, wo, c, k, k)
    dxp = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + ho, j:j + wo] += d[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    return dxp[:, :, pad:pad + h, pad:pad + w]


def conv_forward(x, w, b, pad=1):
    o, _, k, _ = w.shape
    cols, ho, wo = im2col(x, k, pad)
    y = cols @ w.reshape(o, -1).T + b  # N, ho*wo, O
    return y.transpose(0, 2, 1).reshape(x.shape[0], o, ho, wo), (cols, x.shape, ho, wo)


def conv_backward(dy, w, cache, pad=1):
    cols, x_shape, ho, wo = cache
    o, _, k, _ = w.shape
    dy2 = dy.reshape(dy.shape[0], o, ho * wo).transpose(0, 2, 1)  # N, ho*wo, O
    dw = np.einsum("npo,npk->ok", dy2, cols).reshape(w.shape)
    db = dy2.sum(axis=(0, 1))
    dx = col2im(dy2 @ w.reshape(o, -1), x_shape, k, pad, ho, wo)
    return dx, dw, db


class Net:
    def __init__(self, rng):
        he = lambda shape, fan_in: rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        self.p = {
            "w1": he((8, 1, 3, 3), 9), "b1": np.zeros(8),
            "w2": he((16, 8, 3, 3), 72), "b2": np.zeros(16),
            "w3": he((256, 10), 256), "b3": np.zeros(10),
        }

    def loss_and_grads(self, x, labels):
        """Mean cross-entropy; returns loss, logits, grads, captured conv tensors."""
        p = self.p
        z1, c1 = conv_forward(x, p["w1"], p["b1"])
        a1 = np.maximum(z1, 0)
        n, ch, h, w = a1.shape
        blocks = a1.reshape(n, ch, h // 2, 2, w // 2, 2)
        m1 = blocks.max(axis=(3, 5))
        z2, c2 = conv_forward(m1, p["w2"], p["b2"])
        a2 = np.maximum(z2, 0)
        f = a2.reshape(n, -1)
        logits = f @ p["w3"] + p["b3"]
        sh = logits - logits.max(axis=1, keepdims=True)
        prob = np.exp(sh) / np.exp(sh).sum(axis=1, keepdims=True)
        loss = -np.log(prob[np.arange(n), labels]).mean()
        dlogits = prob.copy()
        dlogits[np.arange(n), labels] -= 1
        dlogits /= n
        g = {"w3": f.T @ dlogits, "b3": dlogits.sum(axis=0)}
        da2 = (dlogits @ p["w3"].T).reshape(a2.shape)
        dz2 = da2 * (z2 > 0)
        dm1, g["w2"], g["b2"] = conv_backward(dz2, p["w2"], c2)
        # max pool backward: the gradient goes to the (first) maximum of each 2x2 block
        is_max = blocks == m1[:, :, :, None, :, None]
        first = is_max & (np.cumsum(np.cumsum(is_max, axis=3), axis=5) == 1)
        da1 = (first * dm1[:, :, :, None, :, None]).reshape(a1.shape)
        dz1 = da1 * (z1 > 0)
        _, g["w1"], g["b1"] = conv_backward(dz1, p["w1"], c1)
        captured = {
            "conv1": {"activation": x, "weight": p["w1"], "error": dz1, "weight_grad": g["w1"]},
            "conv2": {"activation": m1, "weight": p["w2"], "error": dz2, "weight_grad": g["w2"]},
        }
        return loss, logits, g, captured

    def accuracy(self, x, y):
        correct = 0
        for i in range(0, len(x), 256):
            _, logits, _, _ = self.loss_and_grads(x[i:i + 256], y[i:i + 256])
            correct += int((logits.argmax(axis=1) == y[i:i + 256]).sum())
        return correct / len(x)


def gradcheck():
    rng = np.random.default_rng(1)
    net = Net(rng)
    x = rng.random((3, 1, 8, 8))
    y = np.array([1, 4, 7])
    _, _, g, _ = net.loss_and_grads(x, y)
    worst = 0.0
    for name in ("w1", "w2", "w3", "b1", "b2"):
        flat = net.p[name].reshape(-1)
        for idx in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[idx]
            flat[idx] = old + 1e-6
            lp = net.loss_and_grads(x, y)[0]
            flat[idx] = old - 1e-6
            lm = net.loss_and_grads(x, y)[0]
            flat[idx] = old
            num = (lp - lm) / 2e-6
            ana = g[name].reshape(-1)[idx]
            rel = abs(num - ana) / max(1e-8, abs(num) + abs(ana))
            worst = max(worst, rel)
    print(f"gradcheck: worst relative difference {worst:.2e}")
    return 0 if worst < 1e-5 else 1


ROLES = {
    "activation": ("NCHW", "input activation of the conv layer (forward operand)"),
    "weight": ("OIHW", "conv weight (forward and backward operand)"),
    "error": ("NCHW", "dL/d(conv output): the back-propagated error (backward operand)"),
    "weight_grad": ("OIHW", "dL/d(weight): the weight gradient"),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__), "..", "data", "cnn_digits.h5"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--capture-batch", type=int, default=64, help="images in the captured batch")
    ap.add_argument("--gradcheck", action="store_true", help="check the backward pass numerically and exit")
    a = ap.parse_args()
    if a.gradcheck:
        return gradcheck()
    import h5py
    from sklearn.datasets import load_digits

    digits = load_digits()
    x_all = (digits.images / 16.0).reshape(-1, 1, 8, 8)  # pixel values 0..16 -> 0..1
    y_all = digits.target.astype(np.int64)
    rng = np.random.default_rng(a.seed)
    perm = rng.permutation(len(x_all))
    n_test = 360
    test, train = perm[:n_test], perm[n_test:]
    xtr, ytr, xte, yte = x_all[train], y_all[train], x_all[test], y_all[test]
    net = Net(rng)
    vel = {k: np.zeros_like(v) for k, v in net.p.items()}
    history = []
    # The captured batch: the first capture_batch training images; gradients are those of
    # the mean loss over that batch, with the parameters of the moment.
    cap_x, cap_y = xtr[:a.capture_batch], ytr[:a.capture_batch]
    snapshots = {}
    for epoch in range(1, a.epochs + 1):
        order = rng.permutation(len(xtr))
        total = 0.0
        for i in range(0, len(order), a.batch):
            idx = order[i:i + a.batch]
            loss, _, g, _ = net.loss_and_grads(xtr[idx], ytr[idx])
            total += loss * len(idx)
            for k in net.p:
                vel[k] = 0.9 * vel[k] - a.lr * g[k]
                net.p[k] += vel[k]
        tr_acc, te_acc = net.accuracy(xtr, ytr), net.accuracy(xte, yte)
        history.append((epoch, total / len(xtr), tr_acc, te_acc))
        print(f"epoch {epoch:2d}  loss {total / len(xtr):.4f}  train acc {tr_acc:.4f}  test acc {te_acc:.4f}", flush=True)
        for phase, when in (("early", 1), ("final", a.epochs)):
            if epoch == when:
                loss, _, _, captured = net.loss_and_grads(cap_x, cap_y)
                snapshots[phase] = (epoch, float(loss), tr_acc, te_acc,
                                    {l: {r: t.astype(np.float32) for r, t in c.items()} for l, c in captured.items()})
    out = os.path.abspath(a.output)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    tmp = out + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["description"] = ("Real tensors of a small CNN trained with SGD on scikit-learn's 8x8 digits, "
                                  "captured on one batch after epoch 1 (early) and after training (final) (scripts/make_cnn_tensors.py)")
        f.attrs["dataset"] = "sklearn.datasets.load_digits (1797 images 8x8, pixel/16)"
        f.attrs["network"] = ("conv1 1->8 3x3 pad1, relu, maxpool 2x2, conv2 8->16 3x3 pad1, relu, "
                              "fc 256->10, softmax cross-entropy")
        f.attrs["train_accuracy"] = history[-1][2]
        f.attrs["test_accuracy"] = history[-1][3]
        f.attrs["train_images"] = len(xtr)
        f.attrs["test_images"] = len(xte)
        f.attrs["epochs"] = a.epochs
        f.attrs["seed"] = a.seed
        f.attrs["optimizer"] = f"SGD momentum 0.9, lr {a.lr}, batch {a.batch}"
        f.attrs["capture_batch"] = a.capture_batch
        f.attrs["numpy_version"] = np.__version__
        for phase, (epoch, loss, tr_acc, te_acc, captured) in snapshots.items():
            g = f.create_group(phase)
            g.attrs["epoch"] = epoch
            g.attrs["batch_loss"] = loss
            g.attrs["train_accuracy"] = tr_acc
            g.attrs["test_accuracy"] = te_acc
            for layer in ("conv1", "conv2"):
                for role, (layout, desc) in ROLES.items():
                    d = g.create_dataset(f"{layer}/{role}", data=captured[layer][role])
                    d.attrs["role"] = role
                    d.attrs["layer"] = layer
                    d.attrs["phase"] = phase
                    d.attrs["layout"] = layout
                    d.attrs["description"] = desc
    os.replace(tmp, out)
    print(f"final: train accuracy {history[-1][2]:.4f}, test accuracy {history[-1][3]:.4f}; captured "
          f"{a.capture_batch} images after epochs {sorted(s[0] for s in snapshots.values())} -> {out} "
          f"({os.path.getsize(out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

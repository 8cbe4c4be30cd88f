"""Boltzmann machines against scikit-learn.

``boltzmann/sklearn_rbm_mnist5000``: scikit-learn's ``BernoulliRBM`` and spinlens' ``RBM`` trained with the
same algorithm (persistent CD-1, one chain per minibatch row), n_hidden = n_components = 256, the same
learning rate, batch size and epochs, on binarised MNIST-5000 (4,000 training / 1,000 held-out images).
Both libraries multiply the *batch-mean* gradient by the learning rate (scikit-learn divides its summed
update by the batch size), so equal ``learning_rate`` values mean equal steps. Both run on one thread
(numpy BLAS through threadpoolctl, ``torch.set_num_threads(1)``). Speed: per-epoch training time ratio in
process CPU seconds (``time.process_time``: robust on a shared machine, and it would charge spinlens for any
extra thread); wall-clock seconds are reported too.
Quality: held-out average log-likelihood of both trained models, each log Z from spinlens' AIS (same
base-rate model, chains and schedule).
"""
from __future__ import annotations

from typing import Any

from benchmarks._harness import benchmark, clocks

N_THREADS = 1


@benchmark("boltzmann/sklearn_rbm_mnist5000")
def sklearn_rbm_mnist5000(quick: bool = False) -> dict[str, Any]:
    import torch
    from sklearn.neural_network import BernoulliRBM
    from threadpoolctl import threadpool_limits

    from spinlens.boltzmann import RBM
    from spinlens.data import load_mnist5000

    d = load_mnist5000(binarize=True)
    Xtr, Xte = d.X[:4000], d.X[4000:]
    n_epochs = 2 if quick else 10
    lr, batch = 0.05, 20
    n_betas = 2000 if quick else 10000
    old = torch.get_num_threads()
    torch.set_num_threads(N_THREADS)
    try:
        with threadpool_limits(limits=N_THREADS):
            sk = BernoulliRBM(n_components=256, learning_rate=lr, batch_size=batch, n_iter=n_epochs, random_state=0)
            # scikit-learn's algorithm: PCD-1, no momentum, no weight decay, W ~ N(0, 0.01^2), zero biases
            ours = RBM(n_hidden=256, n_epochs=n_epochs, learning_rate=lr, batch_size=batch, k=1, persistent=True,
                       momentum=0.0, weight_decay=0.0, init_scale=0.01, visible_bias_init="zero",
                       rng=0, n_threads=N_THREADS)
            # alternate the two fits (same seeds, same result each time) and keep the faster of each pair, so
            # that load drifting on a shared machine does not favour whichever side ran in a quiet moment
            peer_s = peer_wall = ours_s = ours_wall = float("inf")
            for _ in range(1 if quick else 2):
                c, w, _ = clocks(lambda: sk.fit(Xtr))
                peer_s, peer_wall = min(peer_s, c), min(peer_wall, w)
                c, w, _ = clocks(lambda: ours.fit(Xtr))
                ours_s, ours_wall = min(ours_s, c), min(ours_wall, w)
        sk_as_rbm = RBM.from_params(sk.components_.T, sk.intercept_visible_, sk.intercept_hidden_,
                                    base_rate_bias=ours.base_rate_bias_, n_threads=N_THREADS)
        z_ours = ours.log_partition("ais", n_chains=100, n_betas=n_betas, rng=1)
        z_sk = sk_as_rbm.log_partition("ais", n_chains=100, n_betas=n_betas, rng=1)
        ll_ours = ours.score(Xte, log_z=z_ours)
        ll_sk = sk_as_rbm.score(Xte, log_z=z_sk)
    finally:
        torch.set_num_threads(old)
    return {
        "spinlens_s": ours_s / n_epochs,
        "peer_s": peer_s / n_epochs,
        "per": "epoch (process CPU seconds)",
        "spinlens_wall_s": ours_wall / n_epochs,
        "peer_wall_s": peer_wall / n_epochs,
        "wall_ratio": peer_wall / ours_wall,
        "threads": N_THREADS,
        "n_epochs": n_epochs,
        "learning_rate": lr,
        "batch_size": batch,
        "heldout_ll_spinlens": ll_ours,
        "heldout_ll_sklearn": ll_sk,
        "log_z_spinlens": z_ours.to_dict(),
        "log_z_sklearn": z_sk.to_dict(),
        "ll_spinlens_minus_sklearn": ll_ours - ll_sk,
    }

"""Training configuration and the output-channel layout every training module shares."""

from __future__ import annotations

from dataclasses import dataclass

from blender_addon.core.arkit import ARKIT_NAMES, INDEX

from ..paths import CACHE_DIR

NUM = len(ARKIT_NAMES)
TRAINED = [i for i, n in enumerate(ARKIT_NAMES) if n != "tongueOut"]  # 51 channels with ICT signal
TONGUE = INDEX["tongueOut"]
assert TONGUE == NUM - 1  # the graph appends tongueOut as the last column


@dataclass
class TrainConfig:
    seed: int = 7
    n_train: int = 100_000
    n_val: int = 4_000
    n_test: int = 6_000
    hidden: tuple[int, int] = (384, 256)
    epochs: int = 3  # 12 before issue 10; cut to fit 7 arms in `make train`'s hour on 2 shared cores
    batch: int = 256
    lr: float = 2e-3
    critic_weight: float = 0.02  # adversarial term weight; the ablation runs 0 too
    critic_hidden: int = 128
    gp_weight: float = 10.0
    n_critic: int = 1
    threads: int = 1  # on 2 shared cores, 2 torch threads ran 10x slower per step than 1 (spin-waiting)
    renders: str = str(CACHE_DIR / "renders")  # render_ict output; "" = none
    one_sided: bool = True  # the synthetic prior also draws one-sided templates (smirk, one-sided sneer, wink)
    real: bool = True  # real frames (the real-face cache) in the loop and in the selection, when available
    real_weight: float = 1.0  # weight of the pseudo-label term against the synthetic MSE
    real_batch: int = 64  # real frames per step (beside `batch` synthetic samples)
    real_floor: float = 0.25  # the *_floor arm: least weight of channels MediaPipe is not trusted on
    take_critic_weight: float = 0.02  # the *_take_critic arm: critic of real-frame outputs against the ARKit take


TINY = TrainConfig(n_train=3_000, n_val=500, n_test=500, hidden=(64, 64), epochs=2, batch=128, renders="", real=False)

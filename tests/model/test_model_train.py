"""Training: losses go down on tiny synthetic data; the end-to-end run writes loadable weights."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from textdifuse_desktop.model.data import (
    PairRecord,
    load_pack,
    roadscene_test_names,
    save_pack,
)
from textdifuse_desktop.model.losses import fusion_loss, sobel_magnitude
from textdifuse_desktop.model.network import build_model, tiny_config
from textdifuse_desktop.model.sampler import DDIMSampler
from textdifuse_desktop.model.train import TrainConfig, train
from textdifuse_desktop.model.weights import load_model


def _synthetic_pack(path: Path, n: int = 4, size: int = 40) -> Path:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:size, :size]
    records = []
    for i in range(n):
        blob = (255 * np.exp(-((xx - rng.integers(8, 32)) ** 2 + (yy - rng.integers(8, 32)) ** 2) / 60.0))
        stripes = 128 + 100 * np.sin(xx / (2.0 + i))
        task, ma, mb = ("ir_vis", "ir", "vis") if i % 2 else ("mri_pet", "mri", "pet")
        records.append(PairRecord(task, f"p{i}", ma, mb, blob.astype(np.uint8), stripes.astype(np.uint8)))
    return save_pack(records, path)


def test_pack_round_trip_and_roadscene_split(tmp_path: Path) -> None:
    path = _synthetic_pack(tmp_path / "pack.npz")
    records = load_pack(path)
    assert len(records) == 4 and records[0].a.dtype == np.uint8 and records[1].task == "ir_vis"
    names = [f"FLIR_{i:05d}.png" for i in range(100)]
    held_out = roadscene_test_names(names)
    assert len(held_out) == 25 and held_out == roadscene_test_names(list(reversed(names)))


def test_sobel_and_fusion_loss() -> None:
    flat = torch.full((1, 1, 8, 8), 0.5)
    assert float(sobel_magnitude(flat)[..., 2:-2, 2:-2].max()) < 1e-3
    a, b = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    loss, parts = fusion_loss(b, a, b)
    assert parts["int"] == pytest.approx(0.0) and float(loss) < 1e-3
    assert float(fusion_loss(a, a, b)[0]) > 0.9


def _hot_figure_scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Infrared: a hot figure on a flat cold background; visible: texture brighter than that background.  Returns
    both sources, the halo-free fusion max(a, b) and the same with a dark ring beside the figure."""
    ir = torch.full((1, 1, 96, 96), 40 / 255)
    figure = torch.zeros_like(ir, dtype=torch.bool)
    figure[..., 20:76, 40:56] = True
    ir[figure] = 230 / 255
    noise = torch.randn(1, 1, 100, 100, generator=torch.Generator().manual_seed(0))
    vis = (120 + 60 * F.avg_pool2d(noise, 5, 1)).clamp(0, 255) / 255
    fused = torch.maximum(ir, vis)
    distance = torch.from_numpy(ndimage.distance_transform_edt(~figure[0, 0].numpy())).float()[None, None]
    ringed = fused - 60 / 255 * torch.exp(-distance / 4) * ~figure
    return ir, vis, fused, ringed


def test_structure_on_details_does_not_reward_a_dark_ring() -> None:
    """The paper's gradient term on whole images prefers the ringed result (its edge is as strong as the infrared
    one); on details every structure term prefers the result without the ring."""
    ir, vis, fused, ringed = _hot_figure_scene()
    on_image = [fusion_loss(x, ir, vis, ssim_weight=0.5)[1] for x in (fused, ringed)]
    on_details = [fusion_loss(x, ir, vis, ssim_weight=0.5, structure="details")[1] for x in (fused, ringed)]
    assert on_image[1]["grad"] < on_image[0]["grad"]
    assert on_details[1]["grad"] > on_details[0]["grad"] and on_details[1]["ssim"] > on_details[0]["ssim"]
    # Gradients on details, SSIM on whole images (salient or both): both terms still prefer no ring.
    assert fusion_loss(ringed, ir, vis, ssim_weight=0.5, structure="grad-details")[1]["ssim"] == on_image[1]["ssim"]
    for target in ("both", "salient"):
        mixed = [fusion_loss(x, ir, vis, ssim_weight=0.5, structure="grad-details", ssim_target=target)[1]
                 for x in (fused, ringed)]
        assert mixed[1]["grad"] == pytest.approx(on_details[1]["grad"])
        assert mixed[1]["grad"] > mixed[0]["grad"] and mixed[1]["ssim"] > mixed[0]["ssim"]
    with pytest.raises(ValueError, match="structure"):
        fusion_loss(fused, ir, vis, structure="edges")


def test_grad_details_share_mixes_the_whole_image_and_details_gradient_terms() -> None:
    ir, vis, _, ringed = _hot_figure_scene()
    on_image = fusion_loss(ringed, ir, vis)[1]["grad"]
    on_details = fusion_loss(ringed, ir, vis, structure="grad-details")[1]["grad"]
    assert on_details != pytest.approx(on_image)
    for share in (0.25, 0.5, 1.0):
        mixed = fusion_loss(ringed, ir, vis, grad_details_share=share)[1]["grad"]
        assert mixed == pytest.approx((1 - share) * on_image + share * on_details)
    with pytest.raises(ValueError, match="grad_details_share"):
        fusion_loss(ringed, ir, vis, structure="details", grad_details_share=0.5)


def test_the_salient_ssim_target_keeps_the_stronger_structure_where_the_sources_disagree() -> None:
    """Trees bright in the infrared and dark against the visible sky: the mean of both SSIMs scores a flat fusion
    (the max-intensity look) about as well as keeping the infrared's trees; the salient target prefers the trees."""
    gen = torch.Generator().manual_seed(3)
    trees = F.avg_pool2d(torch.rand(1, 1, 68, 68, generator=gen), 5, 1)
    trees = (trees - trees.mean()) / trees.std()
    ir, vis = 0.45 + 0.15 * trees, 0.85 - 0.04 * trees  # strong structure in the IR, weaker and inverted in the vis
    flat, keeps_ir = torch.full_like(ir, 0.85), 0.75 + 0.15 * trees

    def ssim_part(x: torch.Tensor, target: str) -> float:
        return fusion_loss(x, ir, vis, ssim_weight=1.0, ssim_target=target)[1]["ssim"]

    assert ssim_part(keeps_ir, "salient") < ssim_part(flat, "salient") - 0.5
    assert abs(ssim_part(keeps_ir, "both") - ssim_part(flat, "both")) < 0.5 * (ssim_part(flat, "salient")
                                                                            - ssim_part(keeps_ir, "salient"))
    # Its structure-only form also keeps the infrared's trees and refuses the visible's inverted ones.
    assert ssim_part(keeps_ir, "salient-structure") < 0.01 and ssim_part(vis, "salient-structure") > 1
    with pytest.raises(ValueError, match="ssim_target"):
        fusion_loss(flat, ir, vis, ssim_weight=1.0, ssim_target="max")


def test_the_ring_aware_salient_targets_penalise_a_dark_ring_more_than_the_salient_ssim() -> None:
    """Beside a hot figure the infrared's step has the larger variance, so the salient SSIM asks for its contrast,
    which a dark ring raises.  The correlation term alone does not reward contrast, and choosing by the details'
    variance leaves the step out of the choice: both make the ring cost more."""
    ir, vis, fused, ringed = _hot_figure_scene()

    def ring_cost(target: str) -> float:
        clean, ring = (fusion_loss(x, ir, vis, ssim_weight=1.0, ssim_target=target)[1]["ssim"] for x in (fused, ringed))
        return ring - clean

    assert ring_cost("salient-structure") > 2 * ring_cost("salient") > 0
    assert ring_cost("salient-texture") > 2 * ring_cost("salient")
    flat_black = torch.zeros(1, 1, 32, 32, requires_grad=True)  # sqrt of a zero variance keeps a finite gradient
    loss, _ = fusion_loss(flat_black, torch.zeros(1, 1, 32, 32), torch.rand(1, 1, 32, 32), ssim_weight=1.0,
                          ssim_target="salient-structure")
    loss.backward()
    assert torch.isfinite(flat_black.grad).all()


def test_stage_a_steps_reduce_restoration_loss() -> None:
    torch.manual_seed(0)
    net, sampler = build_model(tiny_config()), DDIMSampler()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1
    cond = (x0 + 0.2 * torch.randn(x0.shape, generator=gen)).clamp(-1, 1)
    t = torch.tensor([999, 749, 499, 249])
    x_t = sampler.q_sample(x0, t, torch.randn(x0.shape, generator=gen))
    opt = torch.optim.AdamW(net.denoiser_parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return ((net(x_t, t.float(), cond) - x0) ** 2).mean()

    first = float(loss().detach())
    for _ in range(40):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < 0.5 * first


def test_stage_b_trains_only_the_fcm() -> None:
    torch.manual_seed(0)
    net = build_model(tiny_config())
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 1, 16, 16, generator=gen), torch.rand(2, 1, 16, 16, generator=gen)
    x = torch.randn(a.shape, generator=gen)
    t = torch.full((2,), 999.0)
    before = [p.detach().clone() for p in net.denoiser_parameters()]
    opt = torch.optim.AdamW(net.fcm_parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        return fusion_loss((net(x, t, a * 2 - 1, b * 2 - 1) + 1) / 2, a, b)[0]

    first = float(loss().detach())
    for _ in range(25):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert float(loss().detach()) < first
    assert all(torch.equal(p, q) for p, q in zip(net.denoiser_parameters(), before))


def test_log_balance_lets_a_clean_pair_count_as_much_as_a_degraded_one() -> None:
    """Two samples, one close to its target (a clean pair) and one far from it (a degraded pair): with the plain mean
    the far one's gradient dominates; with ``balance="log"`` each sample's gradient is divided by its own loss."""
    ir, vis, fused, _ = _hot_figure_scene()
    a, b = torch.cat([ir, ir]), torch.cat([vis, vis])
    x0 = torch.cat([fused + 0.01, fused * 0.1]).requires_grad_(True)
    grads = {}
    for balance in ("mean", "log"):
        x0.grad = None
        loss, _ = fusion_loss(x0, a, b, ssim_weight=0.5, balance=balance)
        loss.backward()
        grads[balance] = [float(x0.grad[i].abs().sum()) for i in range(2)]
    per_sample = [float(fusion_loss(x0[i:i + 1].detach(), ir, vis, ssim_weight=0.5)[0]) for i in range(2)]
    assert per_sample[1] > 2 * per_sample[0]
    ratio_mean, ratio_log = (g[0] / g[1] for g in (grads["mean"], grads["log"]))
    assert ratio_log == pytest.approx(ratio_mean * per_sample[1] / per_sample[0], rel=1e-3)
    with pytest.raises(ValueError, match="balance"):
        fusion_loss(fused, ir, vis, balance="median")


def test_end_to_end_tiny_run(tmp_path: Path) -> None:
    pack = _synthetic_pack(tmp_path / "pack.npz")
    cfg = TrainConfig(out=str(tmp_path / "run"), train_pack=str(pack), tiny=True, iters_a=6, iters_b=4,
                      iters_t=5, batch_t=2, crop_t=32, batch_a=2, batch_b=2, crop_a=32, crop_b=32, rollout_steps=(1, 2), progress=False,
                      ckpt_every=3, log_every=1, ssim_weight=0.5, structure_on="details",
                      loss_balance="log", model={"gate_condition": 1})
    weights = train(cfg, "test")
    loaded = load_model(weights)
    assert loaded.card["training"]["stage_a"]["iteration"] == 6
    assert loaded.card["command"] == "test"
    lines = [json.loads(line) for line in (tmp_path / "run" / "losses.jsonl").read_text().splitlines()]
    assert {line["stage"] for line in lines} == {"T", "A", "B"} and all(np.isfinite(line["loss"]) for line in lines)
    assert all("ssim" in line for line in lines if line["stage"] == "B")
    assert loaded.card["training"]["stage_t"]["iteration"] == 5
    # Resume: a finished run continues without redoing the stages.
    cfg.resume = True
    again = train(cfg, "test")
    assert load_model(again).card["training"]["stage_b"]["iteration"] == 4


def test_snapshots_keep_loadable_ema_weights_without_changing_the_run(tmp_path: Path) -> None:
    """Snapshots are the stage's EMA weights, loadable like the final model; the last one is the final model, and
    taking them leaves the run's weights (and so its result) exactly as without them."""
    pack = _synthetic_pack(tmp_path / "pack.npz")

    def run(name: str, every: int) -> Path:
        cfg = TrainConfig(out=str(tmp_path / name), train_pack=str(pack), tiny=True, iters_a=2, iters_b=4, iters_t=0,
                          batch_a=2, batch_b=2, crop_a=32, crop_b=32, rollout_steps=(1,), progress=False,
                          snapshot_every=every, grad_details_share=0.5)
        return train(cfg, name)

    plain, snapped = run("plain", 0), run("snapped", 2)
    folder = tmp_path / "snapped" / "snapshots"
    assert sorted(p.name for p in folder.iterdir()) == ["A-000002", "B-000002", "B-000004"]
    assert not (tmp_path / "plain" / "snapshots").exists()
    final, last = load_model(snapped), load_model(folder / "B-000004" / "model.safetensors")
    assert {k: last.card["snapshot"][k] for k in ("stage", "iteration", "total")} == {"stage": "B", "iteration": 4,
                                                                                      "total": 4}
    same = load_model(plain).net.state_dict()
    for name, tensor in final.net.state_dict().items():
        assert torch.equal(tensor, last.net.state_dict()[name]) and torch.equal(tensor, same[name]), name
    middle = load_model(folder / "B-000002" / "model.safetensors").net.state_dict()
    assert any(not torch.equal(middle[n], t) for n, t in final.net.state_dict().items())
    with pytest.raises(ValueError, match="--grad-details-share"):
        train(TrainConfig(out=str(tmp_path / "bad"), train_pack=str(pack), tiny=True, iters_a=0, iters_b=1, iters_t=0,
                          structure_on="details", grad_details_share=0.5, progress=False), "refused")


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path: Path) -> None:
    pack = _synthetic_pack(tmp_path / "pack.npz")
    with socket.socket() as probe:  # a free loopback port, chosen at run time
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", port,
           "-m", "textdifuse_desktop.model.train", "--ddp", "--device", "cpu", "--tiny", "--train-pack", str(pack),
           "--out", str(tmp_path / "ddp"), "--iters-t", "2", "--crop-t", "32", "--batch-t", "2", "--iters-a", "3", "--iters-b", "2", "--batch-a", "2", "--batch-b", "2",
           "--crop-a", "32", "--crop-b", "32", "--rollout-steps", "1,2", "--no-progress",
           "--model-config", '{"restorer": 1}', "--iters-r", "2", "--batch-r", "2", "--crop-r", "32"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    loaded = load_model(tmp_path / "ddp" / "model.safetensors")
    assert loaded.card["training"]["world_size"] == 2
    assert loaded.card["training"]["stage_r"]["iteration"] == 2 and loaded.net.restorer is not None


def test_init_from_loads_matching_tensors_and_can_rezero_the_head(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from textdifuse_desktop.model._trainer import _init_from

    source = build_model(tiny_config())
    for p in source.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    net = build_model(tiny_config())
    _init_from(net, str(path), rezero_head=True)
    assert torch.equal(net.encoder.stem[1].weight, source.encoder.stem[1].weight)
    assert float(net.decoder.out[2].weight.detach().abs().sum()) == 0.0
    _init_from(net, str(path), rezero_head=False)
    assert torch.equal(net.decoder.out[2].weight, source.decoder.out[2].weight)


def test_zero_stage_a_iterations_keep_the_initial_denoiser(tmp_path: Path) -> None:
    """``--iters-a 0 --init-from W``: a stage-B-only run (new FCM design on a trained denoiser)."""
    pack = _synthetic_pack(tmp_path / "pack.npz")
    base = TrainConfig(out=str(tmp_path / "base"), train_pack=str(pack), tiny=True, iters_a=2, iters_b=1,
                       iters_t=2, batch_t=2, crop_t=32, batch_a=2, batch_b=2, crop_a=32, crop_b=32, rollout_steps=(1,), progress=False)
    first = train(base, "base")
    cfg = TrainConfig(out=str(tmp_path / "b_only"), train_pack=str(pack), tiny=True, iters_a=0, iters_b=3,
                      iters_t=0, batch_b=2, crop_b=32, rollout_steps=(1,), progress=False, init_from=str(first),
                      model={"output": "two_scale"}, int_weight=0.0)
    second = load_model(train(cfg, "b only"))
    assert second.card["training"]["stage_a"]["iteration"] == 0
    assert second.card["training"]["stage_b"]["iteration"] == 3
    assert second.net.output == "two_scale"
    start = load_model(first).net
    for p, q in zip(second.net.denoiser_parameters(), start.denoiser_parameters()):
        torch.testing.assert_close(p, q)


def test_init_from_keeps_the_loaded_design_unless_the_model_config_changes_it(tmp_path: Path) -> None:
    """A run from saved weights builds their network (here: with a restorer, which the tiny default lacks), so
    fine-tuning the shipped weights keeps their restorer and tone head; ``--model-config`` still overrides."""
    from textdifuse_desktop.model.weights import save_model

    pack = _synthetic_pack(tmp_path / "pack.npz")
    torch.manual_seed(0)
    start = build_model({**tiny_config(), "restorer": 1})
    with torch.no_grad():
        start.restorer.out[1].weight.normal_(0, 0.05)  # not the fresh (zero) output layer
    weights = tmp_path / "start" / "model.safetensors"
    save_model(start, {}, weights, dtype=torch.float32)

    def run(name: str, model: dict) -> torch.nn.Module:
        cfg = TrainConfig(out=str(tmp_path / name), train_pack=str(pack), tiny=True, iters_a=0, iters_b=1,
                          iters_t=0, iters_r=0, batch_b=2, crop_b=32, rollout_steps=(1,), progress=False,
                          init_from=str(weights), model=model)
        return load_model(train(cfg, name)).net

    kept = run("kept", {})
    assert kept.restorer is not None and kept.tone is not None
    for p, q in zip(kept.restorer.parameters(), start.restorer.parameters()):
        torch.testing.assert_close(p, q, atol=1e-3, rtol=1e-3)  # saved in float16
    assert run("changed", {"restorer": 0}).restorer is None


def test_condition_only_trains_the_gate_condition_and_nothing_else(tmp_path: Path) -> None:
    """``--condition-only``: stage B moves only the pixel gate's degradation condition; every other tensor keeps
    the value it was loaded with.  Without ``gate_condition`` the option is refused."""
    pack = _synthetic_pack(tmp_path / "pack.npz")
    base = TrainConfig(out=str(tmp_path / "base"), train_pack=str(pack), tiny=True, iters_a=2, iters_b=2,
                       iters_t=0, batch_a=2, batch_b=2, crop_a=32, crop_b=32, rollout_steps=(1,), progress=False)
    first = train(base, "base")
    cfg = TrainConfig(out=str(tmp_path / "cond"), train_pack=str(pack), tiny=True, iters_a=0, iters_b=3, iters_t=0,
                      batch_b=2, crop_b=32, rollout_steps=(1,), progress=False, init_from=str(first),
                      model={"gate_condition": 1}, condition_only=True, lr_b=1e-2, loss_balance="log")
    trained = load_model(train(cfg, "condition only")).net.state_dict()
    start = load_model(first).net.state_dict()
    moved = {k for k, v in trained.items() if k not in start or not torch.equal(v, start[k])}
    assert moved and all(k.startswith("pixel_gate.condition.") for k in moved)
    with pytest.raises(ValueError, match="gate_condition"):
        train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "refused"), "model": {}}), "refused")


def test_clean_anchor_measures_how_far_clean_pairs_move_from_the_loaded_gates(tmp_path: Path) -> None:
    """``--clean-anchor``: on pairs whose sources are both clean, the fusion is compared with the same network's
    fusion without its gate condition.  A fresh condition changes nothing (anchor 0); once it has trained, clean
    pairs move.  Refused without ``--condition-only``."""
    from textdifuse_desktop.model.train import _clean_anchor

    torch.manual_seed(0)
    net = build_model({**tiny_config(), "tone_head": 0, "gate_condition": 1})
    with torch.no_grad():
        for name, p in net.named_parameters():  # random gates; the condition stays fresh (no modulation)
            if p.ndim > 1 and not p.abs().sum() and not name.startswith("pixel_gate.condition."):
                p.normal_(0, 0.3)
    a, b = (F.avg_pool2d(torch.rand(2, 1, 32, 32), 3, 1, 1) for _ in range(2))
    sampler = DDIMSampler()
    sampler.set_timesteps(1)
    t_k = int(sampler.timesteps[0])
    x, t = torch.randn_like(a), torch.full((2,), float(t_k))
    cond_a, cond_b = a * 2 - 1, b * 2 - 1

    def anchor() -> float:
        x0 = (sampler.predict_x0(net(x, t, cond_a, cond_b), t_k, x) + 1) / 2
        return float(_clean_anchor(net, x, t, t_k, sampler, cond_a, cond_b, a, b, x0).detach())

    assert anchor() == pytest.approx(0.0, abs=1e-7)
    with torch.no_grad():
        net.pixel_gate.condition.mlp[-1].bias.normal_(0, 1.0)
    assert anchor() > 1e-4
    assert net.pixel_gate.condition is not None  # put back after the reference fusion
    pack = _synthetic_pack(tmp_path / "pack.npz")
    with pytest.raises(ValueError, match="--condition-only"):
        train(TrainConfig(out=str(tmp_path / "run"), train_pack=str(pack), tiny=True, iters_a=0, iters_b=1, iters_t=0,
                          batch_b=2, crop_b=32, rollout_steps=(1,), progress=False, clean_anchor=1.0,
                          model={"gate_condition": 1}), "refused")


def test_stage_a_grid_options_choose_the_timesteps_it_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--grid-share-a 1 --grid-steps-a 2``: stage A trains only at the 2-step sampler's timesteps (the
    default sampler's); out-of-range values are refused before any stage runs."""
    seen: list[int] = []
    original = DDIMSampler.q_sample

    def recording(self: DDIMSampler, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        seen.extend(int(v) for v in t)
        return original(self, x0, t, noise)

    monkeypatch.setattr(DDIMSampler, "q_sample", recording)
    pack = _synthetic_pack(tmp_path / "pack.npz")
    cfg = TrainConfig(out=str(tmp_path / "grid"), train_pack=str(pack), tiny=True, iters_a=4, iters_b=0, iters_t=0,
                      batch_a=4, crop_a=32, progress=False, grid_share_a=1.0, grid_steps_a=(2,))
    train(cfg, "grid")
    assert len(seen) == 16 and set(seen) <= {999, 499} and len(set(seen)) == 2
    for bad in ({"grid_share_a": 1.5}, {"grid_steps_a": (0,)}):
        with pytest.raises(ValueError, match="grid"):
            train(TrainConfig(**{**cfg.__dict__, "out": str(tmp_path / "bad"), **bad}), "bad")


def test_stage_a_ssim_term_is_part_of_the_logged_loss(tmp_path: Path) -> None:
    """``--ssim-weight-a``: stage A's loss is MSE + l1_weight * L1 + w * (1 - SSIM), each logged."""
    pack = _synthetic_pack(tmp_path / "pack.npz")
    cfg = TrainConfig(out=str(tmp_path / "ssim"), train_pack=str(pack), tiny=True, iters_a=3, iters_b=0, iters_t=0,
                      batch_a=2, crop_a=32, progress=False, log_every=1, ssim_weight_a=2.0, l1_weight=0.5)
    train(cfg, "ssim")
    rows = [json.loads(line) for line in (tmp_path / "ssim" / "losses.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["stage"] == "A"]
    assert rows and all(0 < r["1-ssim"] <= 2 for r in rows)
    for r in rows:
        assert r["loss"] == pytest.approx(r["mse"] + 0.5 * r["l1"] + 2.0 * r["1-ssim"], rel=1e-5)


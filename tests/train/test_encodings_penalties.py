"""``spikewave train``'s input encodings, activity penalties and decision step: each
against a hand computation or an independent recomputation."""

import json
import math

import pytest
import torch

from spikewave import ParameterError
from spikewave.cli import main
from spikewave.coding.latency import latency_spikes
from spikewave.nn.regularization import early_decision_loss, spike_count_l1, spike_count_l2
from spikewave.train.decision import decision_steps
from spikewave.train.encodings import encode_images
from spikewave.train.loop import TrainConfig
from spikewave.train.models import dense_snn
from spikewave.train.penalties import Penalty, recording


def test_early_decision_loss_by_hand():
    v = torch.tensor([[[0.0, 1.0]], [[3.0, 0.0]]])  # running means (0, 1) then (1.5, 0.5)
    ce0 = math.log(1 + math.e)  # -log softmax((0, 1))_0
    ce1 = math.log(1 + math.exp(-1))  # -log softmax((1.5, 0.5))_0
    assert early_decision_loss(v, torch.tensor([0])).item() == pytest.approx((ce0 + ce1) / 2)
    # two samples: the batch mean of each sample's mean over steps
    v2 = torch.cat([v, v.flip(2)], dim=1)
    got = early_decision_loss(v2, torch.tensor([0, 1])).item()
    assert got == pytest.approx((ce0 + ce1) / 2)
    # at T = 1 it is the task loss itself
    one = torch.tensor([[[0.2, -0.4, 1.0]]])
    assert early_decision_loss(one, torch.tensor([2])).item() == pytest.approx(
        torch.nn.functional.cross_entropy(one[0], torch.tensor([2])).item())
    with pytest.raises(ParameterError, match="'labels'"):
        early_decision_loss(v, torch.tensor([0, 1]))
    with pytest.raises(ParameterError, match="'readout'"):
        early_decision_loss(v[0], torch.tensor([0]))


def test_early_decision_gradient_pushes_the_early_steps():
    # only the first step's readout is wrong: the term's gradient is largest there
    v = torch.tensor([[[1.0, 0.0]], [[0.0, 4.0]], [[0.0, 4.0]]], requires_grad=True)
    early_decision_loss(v, torch.tensor([1])).backward()
    g = v.grad[:, 0, 1]
    assert (g < 0).all() and g[0] < g[1] < g[2]


def test_decision_steps_by_hand():
    # running means of sample 0: (1,0) (0.5,1) (1/3,2/3)*... -> predictions 0, 1, 1: d = 1
    # sample 1: predictions 1, 1, 1: d = 0; sample 2: 0, 0, 1: d = 2; sample 3: 1, 0, 1: d = 2
    v = torch.tensor([
        [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]],
        [[0.0, 2.0], [0.0, 1.0], [0.0, 0.5], [3.0, 0.0]],
        [[0.0, 0.0], [0.0, 1.0], [0.0, 5.0], [0.0, 4.0]],
    ])
    assert decision_steps(v).tolist() == [1, 0, 2, 2]
    assert decision_steps(v[:1]).tolist() == [0, 0, 0, 0]  # one step: decided at once
    with pytest.raises(ParameterError, match="'readout'"):
        decision_steps(torch.zeros(0, 2, 3))


def test_encodings():
    x = torch.tensor([[0.0, 0.25, 1.0], [0.5, 0.5, 0.0]])
    direct = encode_images(x, 5, "direct")
    assert direct.shape == (5, 2, 3) and direct.stride(0) == 0 and torch.equal(direct[3], x)
    assert torch.equal(encode_images(x, 6, "latency"), latency_spikes(x, 6, "linear"))
    a = encode_images(x, 4000, "rate", torch.Generator().manual_seed(3))
    b = encode_images(x, 4000, "rate", torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and set(a.unique().tolist()) <= {0.0, 1.0}
    # each input fires with probability x per step: 4000 steps, 4 standard deviations
    sd = torch.sqrt(x * (1 - x) / 4000)
    assert ((a.mean(0) - x).abs() <= 4 * sd + 1e-12).all()
    with pytest.raises(ParameterError, match="'encoding'"):
        encode_images(x, 4, "poisson")
    with pytest.raises(ParameterError, match="'x'"):
        encode_images(x + 1, 4, "rate")


def _hidden_spikes_by_hand(net, x):
    return net.layers[0](x)


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_penalty_is_the_weighted_count_of_the_hidden_spikes(kind):
    torch.manual_seed(0)
    net = dense_snn(6, (12,), 3)
    x = 2 * torch.rand(10, 4, 6)
    y = torch.tensor([0, 1, 2, 0])
    w = 0.01
    penalty = Penalty(kind, w, 0.0)
    with recording(net, penalty):
        v, _ = net(x)
        got = penalty.loss(v, y)
        assert penalty.loss(v, y).item() == 0.0  # the spikes are taken once
    s = _hidden_spikes_by_hand(net, x)
    count = spike_count_l1(s) if kind == "l1" else spike_count_l2(s)
    assert count.item() > 0
    assert got.item() == pytest.approx(w * count.item(), rel=1e-6)
    # the gradient flows through the recorded spikes: the same as the recomputation's
    g_got = torch.autograd.grad(got, net.layers[0].weight)[0]
    g_ref = torch.autograd.grad(w * count, net.layers[0].weight)[0]
    assert torch.allclose(g_got, g_ref, rtol=1e-5, atol=1e-7) and g_ref.abs().sum() > 0
    # hooks are gone after the block; evaluation passes record nothing
    assert not any(m._forward_hooks for m in net.modules())
    with recording(net, penalty), torch.no_grad():
        net(x)
        assert penalty.loss(v.detach(), y).item() == 0.0


def test_config_validation():
    assert TrainConfig().penalty() is None
    assert TrainConfig(decision_reg_weight=0.5).penalty() is not None
    with pytest.raises(ParameterError, match="'spike_reg'"):
        TrainConfig(spike_reg_weight=0.1)
    with pytest.raises(ParameterError, match="'spike_reg_weight'"):
        TrainConfig(spike_reg="l1", spike_reg_weight=-1.0)
    with pytest.raises(ParameterError, match="'encoding'"):
        TrainConfig(encoding="poisson")


@pytest.mark.parametrize(("argv", "needle"), [
    (["--dataset", "nmnist", "--encoding", "rate"], "'encoding'"),
    (["--dataset", "shd", "--encoding", "latency"], "'encoding'"),
    (["--spike-reg", "l1"], "'spike_reg_weight'"),
    (["--spike-reg-weight", "0.1"], "'spike_reg'"),
    (["--method", "eprop", "--spike-reg", "l1", "--spike-reg-weight", "0.1"], "'method'"),
])
def test_cli_refuses(tmp_path, capsys, argv, needle):
    assert main(["train", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_cli_records_the_settings_and_resume_refuses_others(tmp_path, capsys):
    out = str(tmp_path / "run")
    argv = ["train", "--epochs", "1", "--time-steps", "4", "--encoding", "rate",
            "--spike-reg", "l2", "--spike-reg-weight", "0.001", "--out", out, "--json"]
    assert main(argv) == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (js["encoding"], js["spike_reg"], js["spike_reg_weight"]) == ("rate", "l2", 0.001)
    assert js["config"]["encoding"] == "rate" and 0 <= js["decision_step"] <= 3
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert (record["encoding"], record["spike_reg"]) == ("rate", "l2")
    for changed in (["--encoding", "latency"], ["--spike-reg-weight", "0.01"]):
        assert main([*argv[:-1], "--epochs", "2", "--resume", *changed]) == 2
        assert "'resume'" in capsys.readouterr().err
    assert main([*argv[:-1], "--epochs", "2", "--resume"]) == 0


def test_spike_penalty_needs_spiking_layers():
    with pytest.raises(ParameterError, match="'spike_reg'"), \
            recording(torch.nn.Linear(2, 2), Penalty("l1", 0.1, 0.0)):
        pass


def _tiny_split():
    import numpy as np

    from spikewave.data.digits import Split

    rng = np.random.default_rng(0)
    x = rng.uniform(0.0, 1.0, (60, 5)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    return Split(x[:40], y[:40], x[40:], y[40:], 3)


def _tiny_run(out, cfg, resume=False):
    from spikewave.train.loop import fit

    torch.manual_seed(0)
    net = dense_snn(5, (8,), 3)
    return fit(net, _tiny_split(), lambda x, gen: encode_images(x, 4, cfg.encoding, gen),
               cfg, out, resume=resume, progress=False)


def test_a_checkpoint_without_the_new_settings_resumes_as_their_defaults(tmp_path):
    from spikewave.train.checkpoint import load_checkpoint, save_checkpoint
    from spikewave.train.loop import CONFIG_DEFAULTS

    _tiny_run(tmp_path, TrainConfig(epochs=1, batch_size=16))
    path = tmp_path / "checkpoint.pt"
    state = load_checkpoint(path)
    for key in CONFIG_DEFAULTS:
        del state["config"][key]
    save_checkpoint(path, state)
    assert _tiny_run(tmp_path, TrainConfig(epochs=2, batch_size=16), resume=True).epochs == 2
    # with another setting it is refused, as with any other difference
    save_checkpoint(path, state)
    with pytest.raises(ParameterError, match="'resume'.*encoding='direct'"):
        _tiny_run(tmp_path, TrainConfig(epochs=2, batch_size=16, encoding="rate"), resume=True)

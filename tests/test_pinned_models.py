"""Every model's loss, `log_prob` and a decoded sample, pinned at a fixed seed (float64).

The values were computed by the code before the flow core was unified (issue 12) and must not
move: a refactor of the models keeps them to float64 rounding (relative 1e-10). `BUILT` pins
models built by `pinned_models.pinned_model`; `LOADED` pins the float32 models saved by that
code under `tests/data/saved_models/` (in the state-dict layout of the time), loaded by today's
code and evaluated in float64, so a saved model keeps giving its user the same numbers.
"""

from __future__ import annotations

import pytest
import torch

from fullglow.models.io import load_model
from pinned_models import PINNED, SAVED, pinned_model, summaries

BUILT = {
    "glow": {
        "loss": [8.268574581890345],
        "gradients": [0.4001242084004884],
        "log_prob": [-64.06502583978198, -78.90717067146886],
        "sample": [
            388.8699197234644,
            251.34726870012506,
            0.4695541381494146,
            0.5921567786698004,
            0.6664134946230316,
            0.4249409932630968,
            0.7851094477099605,
            0.5451798261124834,
        ],
    },
    "fullglow": {
        "loss": [8.274446910498016],
        "gradients": [0.46339316650875134],
        "log_prob": [-62.46174344614349, -83.19088865916586],
        "sample": [
            376.82200079365305,
            237.60181105533846,
            0.36017527890217504,
            0.42513086514127363,
            0.48693501184649457,
            0.3730434778016558,
            0.5702988516596144,
            0.7135400151094347,
        ],
    },
    "cglow-v1": {
        "loss": [8.26600938384152],
        "gradients": [0.4997432846925947],
        "log_prob": [-58.144931932434474, -83.4617146561655],
        "sample": [
            381.5342570127352,
            242.44805790440014,
            0.4660077980856656,
            0.3361707937848589,
            0.6412103339983545,
            0.7408693720172719,
            0.14225882703127035,
            0.2723677918101847,
        ],
    },
    "cglow-v2": {
        "loss": [8.305331427301486],
        "gradients": [0.5485168826355201],
        "log_prob": [-71.27479632365629, -91.2644302775866],
        "sample": [
            386.583939709531,
            247.86513093253814,
            0.4880575393719842,
            0.8692718390897423,
            0.18293514432564206,
            0.8842908434153262,
            0.7480961313198492,
            0.6339707979261411,
        ],
    },
    "dualglow": {
        "loss": [8.298034236770514],
        "gradients": [0.42960184881379604],
        "log_prob": [-69.85206495917748, -88.35697446982834],
        "sample": [
            375.48797167882344,
            239.12860948415664,
            0.6140566554293461,
            0.7861772109806109,
            0.11051614587956193,
            0.34021584493660306,
            0.5025980629156752,
            0.4165431067766979,
        ],
    },
    "pix2pix": {
        "loss": [50.26866402817468],
        "gradients": [15.770410833647453],
        "log_prob": [],
        "sample": [
            3137.4275182553492,
            1630.2596774573383,
            0.5054672313689013,
            0.5008214017625594,
            0.5110499169128945,
            0.5068042159746925,
            0.5118446996725592,
            0.5170911807261923,
        ],
    },
}

LOADED = {
    "glow": {
        "loss": [8.268574571994824],
        "gradients": [0.4001242137594349],
        "log_prob": [-64.06502278837559, -78.90716845512361],
        "sample": [
            388.8699190363766,
            251.34726747678926,
            0.469554153172953,
            0.592156790864625,
            0.6664134993845618,
            0.42494099948903785,
            0.7851094466884817,
            0.5451798266635779,
        ],
    },
    "fullglow": {
        "loss": [8.27444691221952],
        "gradients": [0.4633931861115551],
        "log_prob": [-62.461743624973565, -83.19088939685133],
        "sample": [
            376.82200071202357,
            237.60181043348172,
            0.36017526702705954,
            0.42513089431391776,
            0.4869350216552315,
            0.3730434957863453,
            0.5702988661494245,
            0.7135400166095651,
        ],
    },
    "cglow-v1": {
        "loss": [8.266009374627398],
        "gradients": [0.4997432868956218],
        "log_prob": [-58.14492954807514, -83.46171213550491],
        "sample": [
            381.5342577209446,
            242.44805463854428,
            0.46600779351257665,
            0.33617077244917776,
            0.6412103840106609,
            0.7408693745005686,
            0.14225884985416515,
            0.27236784064769126,
        ],
    },
    "cglow-v2": {
        "loss": [8.305331422978572],
        "gradients": [0.548516875722779],
        "log_prob": [-71.27479593499527, -91.26442836499996],
        "sample": [
            386.58394036759967,
            247.86513090753948,
            0.4880575361206148,
            0.8692718267358523,
            0.18293518409334758,
            0.8842907986424579,
            0.7480961003328191,
            0.633970816275992,
        ],
    },
    "dualglow": {
        "loss": [8.298034241224995],
        "gradients": [0.4296018736674907],
        "log_prob": [-69.8520676668465, -88.35697413353984],
        "sample": [
            375.4879725423785,
            239.12861015357217,
            0.6140565891561791,
            0.7861771865917193,
            0.11051613698431406,
            0.34021582502022096,
            0.5025980529824983,
            0.4165430841995692,
        ],
    },
}


def _assert_close(got: dict[str, list[float]], want: dict[str, list[float]]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert torch.allclose(
            torch.tensor(got[key], dtype=torch.float64),
            torch.tensor(want[key], dtype=torch.float64),
            rtol=1e-10,
            atol=0,
        ), (key, got[key], want[key])


@pytest.mark.parametrize("name", PINNED)
def test_built_models_give_their_pinned_loss_log_prob_and_sample(name: str):
    _assert_close(summaries(pinned_model(name)), BUILT[name])


@pytest.mark.parametrize("name", sorted(LOADED))
def test_models_saved_by_earlier_code_load_and_give_their_pinned_values(name: str):
    model = load_model(SAVED / name).double().eval()
    assert model.name == name
    _assert_close(summaries(model), LOADED[name])

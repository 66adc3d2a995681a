"""``causalppl bench morpho`` and ``causalppl bench pendulum`` run end to end in ``--quick`` mode."""

import json

import pytest

from causalppl.bench import morpho, pendulum

TOP = ["bench", "variant", "fit_s", "steps_run", "best_step", "heldout_iwae", "likelihood", "counterfactual"]
TOP += ["null_intervention_l1", "timing_units", "cf_images_per_s", "recipe_cf_images_per_s", "recipe_max_abs_diff"]
PER_DO = ["l1", "l1_factual", "l1_fresh_z_sample", "l1_fresh_z_mean", "ratio_to_best_baseline"]
PER_DO += ["effectiveness_sd", "measurement_floor_sd", "reversibility", "extrapolation"]
LOG_P = {
    morpho: ["log_p(thickness)", "log_p(intensity | thickness)"],
    pendulum: [
        "log_p(pendulum)",
        "log_p(light)",
        "log_p(shadow_length | pendulum, light)",
        "log_p(shadow_position | pendulum, light)",
    ],
}
DOS = {morpho: ["thickness", "intensity"], pendulum: ["pendulum", "light", "shadow_length"]}


@pytest.mark.slow
@pytest.mark.parametrize("bench", [morpho, pendulum], ids=["morpho", "pendulum"])
def test_quick_run_writes_results_and_one_json_line_per_variant(bench, tmp_path, capsys):
    out = tmp_path / "result.md"
    bench.main(["--quick", "--out", str(out)])
    text = out.read_text()
    name = bench.__name__.rsplit(".", 1)[-1]
    assert text.startswith(f"# {name} ") and f"- command: `causalppl bench {name} --quick --out {out}`" in text
    for heading in ("Fit and test likelihood", "against the true counterfactuals", "Effectiveness", "Soundness"):
        assert heading in text
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["variant"] for r in lines] == ["independent", "conditional", "full"]
    for r in lines:
        assert set(TOP) <= set(r) and r["bench"] == name
        assert set(LOG_P[bench] + ["elbo", "iwae", "image_bpd"]) <= set(r["likelihood"])
        assert list(r["counterfactual"]) == DOS[bench] and set(r["null_intervention_l1"]) == {"1", "10"}
        for e in r["counterfactual"].values():
            assert set(PER_DO) <= set(e)
        assert r["recipe_max_abs_diff"] < 1e-4  # the recipe computes the same counterfactuals
    # the independent model's image ignores the attributes: its counterfactual is the factual image
    for e in lines[0]["counterfactual"].values():
        assert e["l1"] == pytest.approx(e["l1_factual"], abs=1e-7)

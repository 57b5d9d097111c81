from __future__ import annotations

from pathlib import Path

import pytest

from hybridgate.errors import ConfigError
from hybridgate.router import data


def _csv(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n")
    return path


def test_routellm_drops_contaminated_and_disagreeing_duplicates(tmp_path: Path) -> None:
    f = _csv(
        tmp_path / "routellm_mmlu_x.csv",
        """
item_id,domain,prompt,correct_weak,correct_strong,contaminated
a,law,Q1 Answer:,True,True,False
b,law,q1,True,True,False
c,law,Q2,False,True,True
d,law,Q3,False,True,False
e,law,q3,True,True,False
f,math,Q4,False,True,False
""",
    )
    ds = data.load([f])
    assert [it.item_id for it in ds.items] == ["a", "f"]
    assert ds.licence_clean and ds.items[1].weak_fails == 1.0


def test_joined_table_picks_any_pair_and_skips_inconsistent_rows(tmp_path: Path) -> None:
    f = _csv(
        tmp_path / "joined_mmlu_subset_9models.csv",
        """
item_id,domain,prompt,contaminated,labels_consistent,correct_gpt-4-1106-preview,score_Meta-Llama-3-8B
a,law,Q1,False,True,True,0.0
b,law,Q2,False,False,True,0.9
c,law,Q3,False,True,False,0.7
""",
    )
    ds = data.load([f], weak="Meta-Llama-3-8B")
    assert [(it.item_id, it.q_strong, it.q_weak) for it in ds.items] == [("a", 1.0, 0.0), ("c", 0.0, 1.0)]
    assert not ds.licence_clean


def test_routerdc_pool_scores(tmp_path: Path) -> None:
    f = _csv(
        tmp_path / "routerdc_7b_pool_scores.csv",
        """
dataset,routerdc_split,item_id,question,cluster_id,meta-llama/Meta-Llama-3-8B,mistralai/Mistral-7B-v0.1
mmlu,test,m1,Q1,,0.4,0.0
gsm8k,test,g1,Q2,,0.7,0.3
gsm8k,test,g2,Q3,,,0.3
""",
    )
    ds = data.load([f], strong="Meta-Llama-3-8B", weak="Mistral-7B-v0.1")
    assert [(it.benchmark, it.q_strong, it.q_weak) for it in ds.items] == [("mmlu", 1.0, 0.0), ("gsm8k", 0.7, 0.3)]


def test_unknown_model_and_wrong_pair_are_config_errors(tmp_path: Path) -> None:
    f = _csv(tmp_path / "joined_x.csv", "item_id,prompt,correct_gpt-4-1106-preview\na,Q,True")
    with pytest.raises(ConfigError, match="matches columns none"):
        data.load([f], weak="nope")
    g = _csv(tmp_path / "routellm_mmlu.csv", "item_id,domain,prompt,correct_weak,correct_strong,contaminated")
    with pytest.raises(ConfigError, match="only has the pair"):
        data.load([g], weak="Meta-Llama-3-8B")

"""The word list that needs no model: which words work on which pair, the regions they give (hot objects, high
uptake, bone by HU), provenance kept through region files, and the checks on the typed text."""

from __future__ import annotations

import numpy as np
import pytest

from textdifuse_desktop.errors import FeatureUnavailableError, UsageError
from textdifuse_desktop.imaging.image import Image
from textdifuse_desktop.session import prompt_words as pw
from textdifuse_desktop.session.prompt_plan import (
    add_outcome,
    find_prompt_regions,
    unknown_phrases,
)
from textdifuse_desktop.session.regions import RegionSet


def _ir_pair():
    rng = np.random.default_rng(0)
    ir = 40 + rng.normal(0, 3, (60, 80)).astype(np.float32)
    ir[10:25, 50:60] = 220.0
    vis = rng.uniform(0, 255, (60, 80, 3)).astype(np.float32)
    return Image(ir), Image(vis, axes="YXC"), (slice(10, 25), slice(50, 60))


def test_check_prompt_accepts_words_and_rejects_bad_text() -> None:
    assert pw.check_prompt(" Person,  hot spot ; car ") == ["Person", "hot spot", "car"]
    assert pw.check_prompt("café, naïve façade") == ["café", "naïve façade"]  # Latin letters with accents
    for text, message in [("", "empty"), (" , ;", "empty"), ("a" * 201, "201 characters"),
                          ("人", "non-Latin"), ("собака", "non-Latin"), ("car\x00", "control")]:
        with pytest.raises(UsageError, match=message) as info:
            pw.check_prompt(text)
        assert info.value.exit_code == 2 and "\n" not in str(info.value)


def test_pair_kind_from_modalities_and_from_rasters() -> None:
    a, b, _ = _ir_pair()
    grey = Image(np.zeros((20, 20), np.float32))
    assert pw.pair_domain(a, b) == pw.INFRARED  # a grey raster next to a colour photograph
    assert pw.pair_domain(Image(np.zeros((20, 20), np.float32), modality="PT"), grey) == pw.NUCLEAR
    assert pw.pair_domain(Image(np.zeros((20, 20), np.float32), modality="MR"),
                          Image(np.zeros((20, 20), np.float32), modality="CT")) == pw.CT
    assert pw.pair_domain(Image(np.zeros((20, 20), np.float32), modality="MR"), grey) is None
    pet = np.zeros((20, 20, 3), np.float32)
    pet[8:12, 8:12] = (255, 200, 0)  # a colour-coded PET: mostly black
    assert pw.pair_domain(grey, Image(pet, axes="YXC")) == pw.NUCLEAR
    night = np.random.default_rng(2).uniform(4, 40, (20, 20, 3)).astype(np.float32)  # dark, never black
    night[5:8, 5:8] = 250.0  # a street lamp
    assert pw.pair_domain(grey, Image(night, axes="YXC")) == pw.INFRARED
    assert pw.word_kind("People", pw.INFRARED) == "hot" and pw.word_kind("hot  spots", pw.NUCLEAR) == "uptake"
    assert pw.word_kind("lesion", pw.INFRARED) is None and pw.word_kind("bone", None) is None
    assert "person" in pw.working_words(pw.INFRARED) and "lesion" in pw.working_words(pw.NUCLEAR)


def test_ir_words_give_the_hot_object_proposal_with_provenance() -> None:
    a, b, hot = _ir_pair()
    outcome = find_prompt_regions("person, car", a, b)
    assert [r.name for r in outcome.regions] == ["person", "car"] and not outcome.notes
    person = outcome.regions[0]
    assert person.provenance == "hot-object proposal for 'person'" and person.source == "A"
    assert person.mask[hot].all() and person.mask.sum() == 150
    assert "person: hot-object proposal for 'person', 150 px" in outcome.summary()


def test_nothing_hot_is_a_note_not_a_region() -> None:
    flat = Image(np.full((40, 50), 7.0, np.float32), modality="IR")
    outcome = find_prompt_regions("person", flat, Image(np.full((40, 50), 3.0, np.float32), modality="VIS"))
    assert outcome.regions == [] and outcome.notes == ["no region for 'person': the hot proposal found nothing on "
                                                       "this pair"]


def test_pet_words_give_high_uptake_and_ct_bone_thresholds_hu() -> None:
    mri = Image(np.full((50, 50), 100.0, np.float32), modality="MR")
    suv = np.full((50, 50), 1.0, np.float32)
    suv[20:30, 20:30] = 8.0
    pet = Image(suv, modality="PT", units="SUV")
    uptake = find_prompt_regions("tumour", mri, pet).regions[0]
    assert uptake.provenance == "high-uptake proposal for 'tumour'" and uptake.source == "B"
    assert uptake.mask[20:30, 20:30].all() and uptake.mask.sum() == 100
    hu = np.full((50, 50), 40.0, np.float32)
    hu[5:15, 5:45] = 900.0  # cortical bone
    hu[30:40, 30:40] = 250.0  # contrast-enhanced vessel: not bone
    bone = find_prompt_regions("bone", mri, Image(hu, modality="CT", units="HU")).regions[0]
    assert bone.provenance == "CT >= 300 HU for 'bone'" and bone.source == "B" and bone.mask.sum() == 400
    with pytest.raises(UsageError, match="Hounsfield"):
        find_prompt_regions("bone", mri, Image(hu, modality="CT"))


def test_unknown_words_without_a_model_list_the_words_that_work() -> None:
    a, b, _ = _ir_pair()
    assert unknown_phrases("person, bicycle, red truck", a, b) == ["bicycle", "red truck"]
    with pytest.raises(FeatureUnavailableError) as info:
        find_prompt_regions("person, bicycle", a, b, clip_hint="run with --allow-download")
    text = str(info.value)
    assert "'bicycle' needs a CLIP model" in text and "hot, warm, person, people" in text
    assert "--allow-download" in text and "\n" not in text and info.value.exit_code == 7


def test_clip_step_gets_every_phrase_and_absent_ones_are_notes() -> None:
    a, b, hot = _ir_pair()

    class Found:
        def __init__(self, name):
            self.name, self.source, self.provenance = name, "A", f"CLIP ViT-B-32: '{name}'"
            self.mask = np.zeros((60, 80), bool)
            self.mask[hot] = True

    asked = []
    outcome = find_prompt_regions("person, dog", a, b, clip=lambda phrases: asked.append(list(phrases)) or
                                  [Found("person")])
    assert asked == [["person", "dog"]] and [r.provenance for r in outcome.regions] == ["CLIP ViT-B-32: 'person'"]
    assert outcome.notes == ["no region for 'dog': nothing scores above the background phrases"]


def test_provenance_survives_saving_and_undo(tmp_path) -> None:
    a, b, _ = _ir_pair()
    region_set = RegionSet.for_image(a)
    assert add_outcome(region_set, find_prompt_regions("pedestrian", a, b)) == [0]
    region_set.add("drawn", mask=np.ones((60, 80), bool))
    region_set.save(tmp_path / "regions")
    loaded = RegionSet.load(tmp_path / "regions")
    assert [r.provenance for r in loaded] == ["hot-object proposal for 'pedestrian'", ""]
    region_set.undo()
    region_set.undo()
    region_set.redo()
    assert region_set[0].provenance == "hot-object proposal for 'pedestrian'"

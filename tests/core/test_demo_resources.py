"""The twelve FracAtlas demo radiographs ship in resources/demo and are in scope; the demo's
pydicom-data chest films are out of scope with their reason."""

from __future__ import annotations

import pytest

from core.imaging.reader import read_image
from core.resources import resource_path
from core.scope import IN_SCOPE, OUT_OF_SCOPE, assess


def test_bundled_radiographs_are_in_scope():
    files = sorted(resource_path("demo").glob("*.jpg"))
    assert len(files) == 12
    for f in files:
        assert assess(read_image(f.read_bytes(), name=f.name, reduce_to=256)).scope == IN_SCOPE, f.name


@pytest.mark.parametrize("name,scope,reason", [("RG1_UNCR.dcm", OUT_OF_SCOPE, "chest radiograph"),
                                               ("RG3_UNCR.dcm", IN_SCOPE, None)])
def test_pydicom_data_films(name, scope, reason):
    pytest.importorskip("data_store", reason="pydicom-data is not installed")
    from pydicom.data import get_testdata_file

    v = assess(read_image(open(get_testdata_file(name), "rb").read(), name=name))
    assert (v.scope, v.reason) == (scope, reason)

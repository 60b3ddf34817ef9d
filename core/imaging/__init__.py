"""Qt-free image reading: ``core.imaging.reader.read_image`` (the one boundary from file bytes to a
``DecodedImage`` or a ``FileError``), the DICOM and Pillow readers behind it, window/level maths,
and the shared model preprocessing (``core.imaging.preprocess``)."""

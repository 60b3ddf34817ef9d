"""The clinic's own loop, Qt-free and torch-free (the app bundle carries it): ``metrics`` (numpy
statistics, shared with training), ``labelled`` (the confirmed labels as arrays, minimum counts),
``calibration`` (THE active thresholds; refitting them on the clinic's labels), ``performance`` (how
the model does here), ``compare`` (shadow test of a candidate model)."""

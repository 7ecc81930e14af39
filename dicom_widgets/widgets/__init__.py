"""ipywidgets compositions around the core: SeriesViewer, TagExplorer, AnonymizationPreview."""

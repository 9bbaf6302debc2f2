"""Lamina's export files: :mod:`~lamina.exchange.export` writes them (the format is
described there), :mod:`~lamina.exchange.importing` reads them back."""

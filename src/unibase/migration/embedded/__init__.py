"""Code that unibase's migrations carry, kept as real modules (see :func:`..render.embedded`)."""

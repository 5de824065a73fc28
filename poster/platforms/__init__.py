"""The platforms a poster publishes to, one small module each behind `base.Platform`."""

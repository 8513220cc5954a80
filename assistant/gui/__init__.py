"""The Qt view over the core. The only package allowed to import Qt."""

"""seal_gym: SEAL as Gymnasium environments."""

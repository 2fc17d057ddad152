"""The seal_gym environments (installed as ``seal_gym.envs``)."""

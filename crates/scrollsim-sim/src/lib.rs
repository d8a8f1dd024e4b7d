//! Simulation: feed policies, the session loop, experiments, sharding and resume.

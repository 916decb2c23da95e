"""Cases: generation of valid and invalid cases from a spec, checked-in cases, shrinking."""

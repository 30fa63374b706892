from lima_site.orchestration.experiment_models import Experiment, HelpfulnessGrade, Variant

__all__ = ["Experiment", "HelpfulnessGrade", "Variant"]

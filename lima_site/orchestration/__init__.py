"""What orchestrates across training and evaluation (app label `orchestration`).

A blind study over a checkpoint's dev responses, ablation experiments (variants -> training runs -> dev generation
-> LLM grading), and the pipeline overview read from every app: this package sits above `annotation.evaluation`
and `training` in the import contract, below the URL conf and views that wire it (../shared/DESIGN.md).
"""

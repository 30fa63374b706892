"""Who may open what: the access matrix, written by hand and reviewed like code.

`tests/test_access_matrix.py` requests every row below as every role, against a world of real objects (an
author's draft, another author's submitted example, a test prompt hidden from group A, a quota, a curation
candidate, an import job, a dataset, a model, a generation run, a training run with a checkpoint, an open study
with judgments and a held item, an external judgment set), and compares the answer with this table. The table is
the truth: it is NOT derived from the views' `lima_capability` declarations, so widening a view's rule fails here.
A URL name of the URL conf without a row here fails `test_every_url_has_a_row`.

Format, one row per line (`#` starts a comment; blank lines are ignored), columns separated by `|`:

    url name            | request             | anonymous | author | annotator | researcher | staff | allowed page shows

- url name: as `reverse()` takes it. A name may have several rows (e.g. one per object).
- request: the method, then the URL's keyword arguments as `key=value`. A value naming an object of the world
  (`draft`, `submitted`, `hidden_test`, `quota`, `candidate`, `import_job`, `dataset`, `model`, `generation_run`,
  `training_run`, `checkpoint`, `study`, `study_uuid`, `held_item`, `external`, `pool_annotator`, `staff_user`; and
  for the later features `decided_candidate` (a candidate rejected in curation, undoable), `conversation_study` and
  `conversation_study_uuid` (a multi-turn study; `foreign_conversation_study_uuid` one without the annotator),
  `my_conversation` (the annotator's open conversation with one rated answer) and `other_conversation` (another
  evaluator's, finished), `experiment` (with variant 0), `verdict` (a judgment of `study`), `unused_model`,
  `draft_study`, `tournament` (external judgments, no target), `invitee` (an annotator in pool "matrix-pool" who has
  no password yet), `invite_uid` and `invite_token` (their link)) becomes that object's key (pk, a public UUID, or
  the link's parts); any other value is used as written (`fmt=csv`). POST bodies are in POST_DATA below, keyed by
  the url name (values may name objects the same way, and `version:OBJECT` gives that example's current version).
- role columns: what that role gets.
    `login`  sent to a login page (302 to /accounts/login/?next=... or, for the admin, /admin/login/?next=...)
    `403`    denied (an authenticated user without the right, or DRF refusing an anonymous client)
    `404`    not found for this user (the object exists, but this user may not know it)
    `200`, `201`, `302` ...  allowed: exactly this status, and the page (for a redirect: the page it leads to,
             opened as the same user) contains the text of the last column.
    `422`    allowed, and the view's own form refused the row's (empty) body: the page shows the form error. Used
             only where a valid body needs an uploaded file or a dump on disk (`400` for the same in the REST API,
             whose serializer refuses the body).
  Each request runs in a savepoint that is rolled back, so every role sees the same world.
- allowed page shows: text every allowed answer of the row must contain (`-` only for an empty 204 answer;
  `A || B` where the allowed answers differ by role, e.g. the login form for anonymous users and the home page,
  after the redirect, for everyone signed in).

Adding a URL: add its row(s) with the answer each role SHOULD get (from the product's rules in
lima_site/roles.py's docstring, README and DESIGN.md, not from the view's decorator), then run the test.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("anonymous", "author", "annotator", "researcher", "staff")

MATRIX = """
# url name                              | request                                      | anonymous | author | annotator | researcher | staff | allowed page shows
home                                    | GET                                          | login     | 200    | 200       | 200        | 200   | Welcome, 
login                                   | GET                                          | 200       | 302    | 302       | 302        | 302   | name="password" || Welcome, 
logout                                  | POST                                         | 302       | 302    | 302       | 302        | 302   | name="password"
password_change                         | GET                                          | login     | 200    | 200       | 200        | 200   | new_password1
password_change_done                    | GET                                          | login     | 200    | 200       | 200        | 200   | password
admin:index                             | GET                                          | login     | login  | login     | login      | 200   | Site administration

# --- authoring (authors write; researchers curate everything; annotators never see examples)
annotation:example_list                 | GET                                          | login     | 200    | 403       | 403        | 200   | Matrix draft prompt
annotation:example_create               | POST                                         | login     | 302    | 403       | 403        | 302   | edit_session
annotation:example_detail               | GET pk=draft                                 | login     | 200    | 403       | 200        | 200   | Matrix draft prompt
annotation:example_detail               | GET pk=hidden_test                           | login     | 404    | 403       | 200        | 200   | Hidden test prompt
annotation:example_edit                 | GET pk=draft                                 | login     | 200    | 403       | 200        | 200   | Matrix draft prompt
annotation:example_autosave             | POST pk=draft                                | login     | 200    | 403       | 200        | 200   | Saved
annotation:example_turns                | POST pk=draft operation=add                  | login     | 200    | 403       | 200        | 200   | Matrix draft prompt
annotation:example_submit               | POST pk=draft                                | login     | 302    | 403       | 302        | 302   | Matrix draft prompt
annotation:example_delete               | POST pk=draft                                | login     | 302    | 403       | 403        | 404   | ” deleted.
annotation:example_history              | GET pk=draft                                 | login     | 200    | 403       | 200        | 200   | Matrix draft prompt
annotation:example_history              | GET pk=hidden_test                           | login     | 404    | 403       | 200        | 200   | Hidden test prompt
# every example of every split, with bulk review: researchers only (authors see their own under example_list)
annotation:example_browse               | GET                                          | login     | 403    | 403       | 200        | 200   | Matrix submitted prompt
annotation:example_bulk_review          | POST                                         | login     | 403    | 403       | 302        | 302   | 1 example approved

# --- review (authors review each other; researchers review everything)
annotation:review_queue                 | GET                                          | login     | 200    | 403       | 200        | 200   | Matrix submitted prompt
annotation:review_decide                | POST pk=submitted                            | login     | 302    | 403       | 302        | 302   | approved

# --- quotas (authors and researchers see them; researchers edit)
annotation:dashboard                    | GET                                          | login     | 200    | 403       | 200        | 200   | Stack Exchange
annotation:quota_update                 | POST pk=quota                                | login     | 403    | 403       | 302        | 302   | is now 321

# --- curation (researchers)
annotation:candidate_review             | GET                                          | login     | 403    | 403       | 200        | 200   | Matrix candidate question
annotation:candidate_decide             | POST pk=candidate                            | login     | 403    | 403       | 302        | 302   | Rejected
annotation:candidate_dialogue           | POST pk=candidate                            | login     | 403    | 403       | 302        | 302   | Matrix candidate question
annotation:candidate_undo               | POST pk=decided_candidate                    | login     | 403    | 403       | 302        | 302   | Matrix decided question
annotation:import_list                  | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-dump.xml
annotation:import_start                 | POST                                         | login     | 403    | 403       | 422        | 422   | This field is required
annotation:import_upload                | POST                                         | login     | 403    | 403       | 422        | 422   | This field is required
annotation:import_job                   | GET pk=import_job                            | login     | 403    | 403       | 200        | 200   | matrix-dump.xml

# --- datasets (researchers)
datasets:dataset_list                   | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-prompts
datasets:dataset_import                 | POST                                         | login     | 403    | 403       | 422        | 422   | This field is required
datasets:dataset_freeze                 | POST                                         | login     | 403    | 403       | 302        | 302   | matrix-frozen-train
datasets:dataset_detail                 | GET pk=dataset                               | login     | 403    | 403       | 200        | 200   | Test prompt number 0
datasets:dataset_export                 | GET pk=dataset fmt=jsonl                     | login     | 403    | 403       | 200        | 200   | Test prompt number 0
datasets:dataset_export                 | GET pk=dataset fmt=csv                       | login     | 403    | 403       | 200        | 200   | Test prompt number 0
datasets:dataset_attribution            | GET pk=dataset                               | login     | 403    | 403       | 200        | 200   | source

# --- blind judging (annotators in the study's pool; researchers set studies up and never judge)
evaluation:judge_home                   | GET                                          | login     | 403    | 200       | 403        | 200   | Your judging studies
evaluation:judge                        | GET study_id=study_uuid                      | login     | 403    | 200       | 403        | 403   | Test prompt number
evaluation:judge_submit                 | POST study_id=study_uuid                     | login     | 403    | 302       | 403        | 403   | Test prompt number
evaluation:judge_undo                   | POST study_id=study_uuid                     | login     | 403    | 302       | 403        | 403   | Test prompt number

# --- studies and results (researchers)
evaluation:study_list                   | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-study
evaluation:study_detail                 | GET pk=study                                 | login     | 403    | 403       | 200        | 200   | matrix-study
evaluation:study_state                  | POST pk=study action=close                   | login     | 403    | 403       | 302        | 302   | Study closed
evaluation:study_state                  | POST pk=study action=open                    | login     | 403    | 403       | 302        | 302   | matrix-study
evaluation:study_llm_judge              | POST pk=study                                | login     | 403    | 403       | 302        | 302   | judge form is incomplete
evaluation:study_exclusion              | POST pk=study user_pk=pool_annotator         | login     | 403    | 403       | 302        | 302   | left out of the statistics
evaluation:study_held_item              | POST pk=held_study item_pk=held_item action=release | login | 403    | 403       | 302        | 302   | Item released
evaluation:study_held_item              | POST pk=held_study item_pk=held_item action=drop | login | 403    | 403       | 302        | 302   | Item dropped
evaluation:study_scrubbed               | GET pk=held_study                            | login     | 403    | 403       | 200        | 200   | I am a language model
evaluation:study_results                | GET pk=study                                 | login     | 403    | 403       | 200        | 200   | matrix-baseline
# a draft study may be deleted; an open one is refused (409, the reason shown)
evaluation:study_delete                 | GET pk=draft_study                           | login     | 403    | 403       | 200        | 200   | matrix-draft-study
evaluation:study_delete                 | POST pk=draft_study                          | login     | 403    | 403       | 302        | 302   | matrix-draft-study” deleted.
evaluation:study_delete                 | POST pk=study                                | login     | 403    | 403       | 409        | 409   | matrix-study
evaluation:study_chart                  | GET pk=study name=outcomes fmt=svg           | login     | 403    | 403       | 200        | 200   | <svg
evaluation:study_chart                  | GET pk=study name=agreement fmt=png          | login     | 403    | 403       | 200        | 200   | PNG
evaluation:study_export                 | GET pk=study kind=judgments fmt=csv          | login     | 403    | 403       | 200        | 200   | matrix-baseline
evaluation:study_export                 | GET pk=study kind=responses fmt=jsonl        | login     | 403    | 403       | 200        | 200   | Test prompt number
evaluation:study_report                 | GET pk=study fmt=md                          | login     | 403    | 403       | 200        | 200   | matrix-baseline
evaluation:study_report                 | GET pk=study fmt=json                        | login     | 403    | 403       | 200        | 200   | matrix-baseline
evaluation:external_list                | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-external
evaluation:external_results             | GET pk=external                              | login     | 403    | 403       | 200        | 200   | matrix-external
evaluation:external_chart               | GET pk=external name=outcomes fmt=svg        | login     | 403    | 403       | 200        | 200   | <svg
evaluation:external_report              | GET pk=external fmt=md                       | login     | 403    | 403       | 200        | 200   | ext-baseline

# --- live multi-turn evaluation: evaluators talk to "Model X" in their own conversations; researchers run the studies
conversations:converse_home             | GET                                          | login     | 403    | 200       | 403        | 200   | Live conversations
conversations:converse_start            | POST study_id=conversation_study_uuid        | login     | 403    | 302       | 403        | 403   | Matrix conversation opener of the annotator
conversations:converse_start            | POST study_id=foreign_conversation_study_uuid| login     | 403    | 403       | 403        | 403   | (only its evaluators)
conversations:conversation              | GET conversation_id=my_conversation          | login     | 403    | 200       | 403        | 403   | Matrix conversation opener of the annotator
conversations:conversation              | GET conversation_id=other_conversation       | login     | 403    | 403       | 403        | 403   | (only its own evaluator)
conversations:conversation_send         | POST conversation_id=my_conversation         | login     | 403    | 302       | 403        | 403   | Matrix follow-up of the annotator
conversations:conversation_send         | POST conversation_id=other_conversation      | login     | 403    | 403       | 403        | 403   | (only its own evaluator)
conversations:conversation_turn         | GET conversation_id=my_conversation position=1| login     | 403    | 302       | 403        | 403   | Model X answers: Matrix conversation opener of the annotator
conversations:conversation_turn         | GET conversation_id=other_conversation position=1| login     | 403    | 403       | 403        | 403   | (only its own evaluator)
conversations:conversation_rate         | POST conversation_id=my_conversation position=1| login     | 403    | 302       | 403        | 403   | Matrix conversation opener of the annotator
conversations:conversation_rate         | POST conversation_id=other_conversation position=1| login     | 403    | 403       | 403        | 403   | (only its own evaluator)
conversations:conversation_finish       | POST conversation_id=my_conversation         | login     | 403    | 302       | 403        | 403   | Conversation finished. Thank you!
conversations:conversation_finish       | POST conversation_id=other_conversation      | login     | 403    | 403       | 403        | 403   | (only its own evaluator)
conversations:study_list                | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-conversation-study
conversations:study_detail              | GET pk=conversation_study                    | login     | 403    | 403       | 200        | 200   | matrix-live-model
conversations:study_chart               | GET pk=conversation_study                    | login     | 403    | 403       | 200        | 200   | matrix-live-model
conversations:study_export              | GET pk=conversation_study                    | login     | 403    | 403       | 200        | 200   | Matrix conversation opener of another evaluator
conversations:study_state               | POST pk=conversation_study                   | login     | 403    | 403       | 302        | 302   | matrix-conversation-study

# --- the pipeline overview and a verdict's lineage name models and runs: researchers only
orchestration:pipeline_live             | GET                                          | login     | 403    | 403       | 200        | 200   | stage-training
orchestration:verdict_lineage           | GET kind=judgment pk=verdict                  | login     | 403    | 403       | 200        | 200   | matrix-baseline

# --- models and generation (researchers)
generation:model_list                   | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-model
generation:model_delete                 | GET pk=unused_model                          | login     | 403    | 403       | 200        | 200   | matrix-unused-model
generation:model_delete                 | POST pk=unused_model                         | login     | 403    | 403       | 302        | 302   | Model matrix-unused-model deleted
generation:run_list                     | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-model
generation:run_create                   | POST                                         | login     | 403    | 403       | 422        | 422   | This field is required
generation:run_import                   | POST                                         | login     | 403    | 403       | 422        | 422   | This field is required
generation:run_compare                  | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-prompts
generation:run_detail                   | GET pk=generation_run                        | login     | 403    | 403       | 200        | 200   | matrix-model
generation:run_action                   | POST pk=generation_run action=cancel         | login     | 403    | 403       | 302        | 302   | matrix-model
generation:run_action                   | POST pk=generation_run action=retry          | login     | 403    | 403       | 302        | 302   | matrix-model
generation:run_action                   | POST pk=generation_run action=resume         | login     | 403    | 403       | 302        | 302   | matrix-model

# --- training (researchers)
training:run_list                       | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-training
training:run_create                     | GET                                          | login     | 403    | 403       | 200        | 200   | epochs
training:run_detail                     | GET pk=training_run                          | login     | 403    | 403       | 200        | 200   | matrix-training
training:run_action                     | POST pk=training_run action=submit           | login     | 403    | 403       | 302        | 302   | matrix-training
training:run_action                     | POST pk=training_run action=cancel           | login     | 403    | 403       | 302        | 302   | matrix-training
training:run_action                     | POST pk=training_run action=refresh          | login     | 403    | 403       | 302        | 302   | matrix-training
training:run_action                     | POST pk=training_run action=resubmit         | login     | 403    | 403       | 302        | 302   | matrix-training
training:dev_responses                  | POST pk=training_run                         | login     | 403    | 403       | 302        | 302   | matrix-training
training:pick                           | POST pk=training_run                         | login     | 403    | 403       | 302        | 302   | Epoch 1 is this run
checkpoint_studies:open                 | POST pk=training_run checkpoint_pk=checkpoint| login     | 403    | 403       | 302        | 302   | Blind study open with

# --- ablation experiments (researchers)
experiments:experiment_list             | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-experiment
experiments:experiment_create           | GET                                          | login     | 403    | 403       | 200        | 200   | samples_per_prompt
experiments:experiment_detail           | GET pk=experiment                            | login     | 403    | 403       | 200        | 200   | matrix-variant-wikihow
experiments:experiment_chart            | GET pk=experiment                            | login     | 403    | 403       | 200        | 200   | matrix-variant-wikihow
experiments:experiment_cancel           | POST pk=experiment                           | login     | 403    | 403       | 302        | 302   | matrix-experiment: cancelled.
experiments:variant_detail              | GET pk=experiment position=0                 | login     | 403    | 403       | 200        | 200   | matrix-variant-wikihow

# --- the team: researchers manage people and pools and watch the jobs; an invited person sets a password by token
team:people                             | GET                                          | login     | 403    | 403       | 200        | 200   | matrix-pool-0
team:person_detail                      | GET pk=pool_annotator                        | login     | 403    | 403       | 200        | 200   | matrix-pool-0
team:people                             | POST                                         | login     | 403    | 403       | 302        | 302   | matrix-new-person created.
team:person_detail                      | POST pk=pool_annotator                       | login     | 403    | 403       | 302        | 302   | matrix-pool-0 updated.
# staff accounts are managed in the admin, not on the people pages (for staff too)
team:person_detail                      | POST pk=staff_user                           | login     | 403    | 403       | 403        | 403   | (nobody here)
team:person_active                      | POST pk=pool_annotator                       | login     | 403    | 403       | 302        | 302   | deactivated: they can no longer log in
team:person_invite                      | POST pk=invitee                              | login     | 403    | 403       | 302        | 302   | /accounts/invite/
team:person_active                      | POST pk=staff_user                           | login     | 403    | 403       | 302        | 302   | stays active: staff accounts are managed in the admin
team:person_invite                      | POST pk=pool_annotator                       | login     | 403    | 403       | 302        | 302   | This account already has a password
team:person_study_remove                | POST pk=pool_annotator study_pk=study        | login     | 403    | 403       | 302        | 302   | no longer judges
team:pool_to_study                      | POST                                         | login     | 403    | 403       | 302        | 302   | annotator of pool
team:invite_accept                      | GET uidb64=invite_uid token=invite_token     | 302       | 302    | 302       | 302        | 302   | new_password1
team:jobs                               | GET                                          | login     | 403    | 403       | 200        | 200   | Jobs and queues

# --- every account: its API token page
api_access                              | GET                                          | login     | 200    | 200       | 200        | 200   | Your token
api_access                              | POST                                         | login     | 302    | 302       | 302        | 302   | Token created.

# --- the API (DRF answers an anonymous client 403; researchers read, export and launch)
api:api-root                            | GET                                          | 403       | 200    | 200       | 200        | 200   | generation-runs
api:schema                              | GET                                          | 403       | 200    | 200       | 200        | 200   | openapi
api:docs                                | GET                                          | 403       | 200    | 200       | 200        | 200   | swagger-ui
api:judging                             | GET study_id=study_uuid                      | 403       | 403    | 200       | 403        | 403   | Test prompt number
api:model-list                          | GET                                          | 403       | 403    | 403       | 200        | 200   | matrix-model
api:model-detail                        | GET pk=model                                 | 403       | 403    | 403       | 200        | 200   | matrix-model
api:generation-run-list                 | GET                                          | 403       | 403    | 403       | 200        | 200   | "status":"completed"
api:generation-run-detail               | GET pk=generation_run                        | 403       | 403    | 403       | 200        | 200   | "status":"completed"
api:generation-run-cancel               | POST pk=generation_run                       | 403       | 403    | 403       | 200        | 200   | completed
# the matrix's run is an imported model's, completed: no worker could retry it (409, the reason shown)
api:generation-run-retry                | POST pk=generation_run                       | 403       | 403    | 403       | 409        | 409   | by upload
api:study-list                          | GET                                          | 403       | 403    | 403       | 200        | 200   | matrix-study
api:study-detail                        | GET pk=study                                 | 403       | 403    | 403       | 200        | 200   | matrix-study
api:study-close                         | POST pk=study                                | 403       | 403    | 403       | 200        | 200   | closed
api:study-open                          | POST pk=study                                | 403       | 403    | 403       | 200        | 200   | open
api:study-statistics                    | GET pk=study                                 | 403       | 403    | 403       | 200        | 200   | matrix-baseline
api:study-export                        | GET pk=study kind=judgments fmt=jsonl        | 403       | 403    | 403       | 200        | 200   | matrix-baseline
api:external-judgment-set-list          | GET                                          | 403       | 403    | 403       | 200        | 200   | matrix-external
api:external-judgment-set-detail        | GET pk=external                              | 403       | 403    | 403       | 200        | 200   | matrix-external
api:external-judgment-set-statistics    | GET pk=external                              | 403       | 403    | 403       | 200        | 200   | ext-baseline
api:external-judgment-set-leaderboard   | GET pk=external                              | 403       | 403    | 403       | 200        | 200   | ext-baseline
api:external-judgment-set-leaderboard   | GET pk=tournament                            | 403       | 403    | 403       | 200        | 200   | matrix-alpha
# the import needs an uploaded file: DRF's serializer refuses the empty body with 400, naming the field
api:dataset-import                      | POST                                         | 403       | 403    | 403       | 400        | 400   | No file was submitted
api:training-run-list                   | GET                                          | 403       | 403    | 403       | 200        | 200   | matrix-training
api:training-run-detail                 | GET pk=training_run                          | 403       | 403    | 403       | 200        | 200   | matrix-training
api:training-run-submit                 | POST pk=training_run                         | 403       | 403    | 403       | 200        | 200   | matrix-training
api:training-run-cancel                 | POST pk=training_run                         | 403       | 403    | 403       | 200        | 200   | matrix-training
api:training-run-refresh                | POST pk=training_run                         | 403       | 403    | 403       | 200        | 200   | matrix-training
api:training-run-resubmit               | POST pk=training_run                         | 403       | 403    | 403       | 200        | 200   | matrix-training
api:training-run-pick                   | POST pk=training_run                         | 403       | 403    | 403       | 200        | 200   | matrix-training
"""

# POST bodies (url name -> form fields). `version:OBJECT` is that example's current version; an object name
# is that object's key. A row whose POST has no body here sends an empty form (its allowed answer then shows the
# form's own error, which proves the view ran past the access check).
POST_DATA: dict[str, dict[str, str]] = {
    "annotation:example_create": {"split": "train", "source": "authored"},
    "annotation:example_autosave": {"split": "train", "source": "authored", "version": "version:draft", "turn_count": "2",
                                    "turn-0-role": "user", "turn-0-text": "Matrix draft prompt, autosaved?",
                                    "turn-1-role": "assistant", "turn-1-text": "Matrix draft response."},
    "annotation:example_turns": {"split": "train", "source": "authored", "version": "version:draft", "turn_count": "2",
                                 "turn-0-role": "user", "turn-0-text": "Matrix draft prompt?",
                                 "turn-1-role": "assistant", "turn-1-text": "Matrix draft response."},
    "annotation:example_submit": {"split": "train", "source": "authored", "version": "version:draft", "turn_count": "2",
                                  "turn-0-role": "user", "turn-0-text": "Matrix draft prompt: how do I brew tea?",
                                  "turn-1-role": "assistant",
                                  "turn-1-text": "Brewing tea is simple: steep the leaves in hot water for three minutes."},
    "annotation:review_decide": {"decision": "approve", "comment": "Fine.", "version": "version:submitted"},
    "annotation:quota_update": {"target": "321"},
    "datasets:dataset_freeze": {"name": "matrix-frozen-train", "split": "train"},
    "annotation:candidate_decide": {"decision": "reject", "version": "version:candidate", "comment": "Off topic."},
    "evaluation:judge_submit": {"item": "assigned_item", "choice": "tie"},
    "evaluation:study_exclusion": {"reason": "too-fast"},
    "annotation:candidate_undo": {"version": "version:decided_candidate"},
    "annotation:example_bulk_review": {"decision": "approve", "comment": "Fine.", "pick": "submitted_pick"},
    "conversations:conversation_send": {"text": "Matrix follow-up of the annotator?", "position": "2"},
    "conversations:conversation_rate": {"grade": "excellent", "note": "Clear."},
    "team:people": {"username": "matrix-new-person", "roles": "annotator", "pools": "matrix-pool"},
    "team:person_detail": {"roles": "annotator", "first_name": "Matrixfirst", "pools": "matrix-pool"},
    "team:person_active": {"active": "no"},
    "team:pool_to_study": {"pool": "matrix-pool", "study": "study"},
    "api_access": {"action": "create"},
    "training:pick": {"checkpoint": "checkpoint"},
    "api:training-run-pick": {"checkpoint": "checkpoint"},
}


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    kwargs: dict[str, str]
    expected: dict[str, str]
    shows: str
    line: int


def rows() -> list[Row]:
    parsed = []
    for number, text in enumerate(MATRIX.splitlines(), start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        cells = [cell.strip() for cell in text.split("|", 7)]
        if len(cells) != 8:
            raise ValueError(f"access matrix line {number}: {len(cells)} columns, expected 8: {text!r}")
        name, request, *answers, shows = cells
        method, *arguments = request.split()
        if method not in ("GET", "POST"):
            raise ValueError(f"access matrix line {number}: method {method!r} is not GET or POST")
        kwargs = dict(argument.split("=", 1) for argument in arguments)
        for role, answer in zip(ROLES, answers):
            if answer != "login" and not answer.isdigit():
                raise ValueError(f"access matrix line {number}: {role} answer {answer!r} is not login or a status")
        parsed.append(Row(name=name, method=method, kwargs=kwargs, expected=dict(zip(ROLES, answers)), shows=shows,
                          line=number))
    return parsed

# mixrep: stem-aware contrastive mixing-style representation learning.
# A table of contents: every stage is one file under workflow/rules/, every rule calls the `mixrep` CLI.
import os
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, os.path.join(workflow.basedir, "src"))
from mixrep.workflow_config import stop_on_yaml_syntax

stop_on_yaml_syntax(os.path.join(workflow.basedir, "config.yaml"))  # one line with file:line:column


configfile: os.path.join(workflow.basedir, "config.yaml")


report: os.path.join(workflow.basedir, "workflow/report/workflow.rst")


include: "workflow/rules/common.smk"
include: "workflow/rules/corpus.smk"
include: "workflow/rules/manifest.smk"
include: "workflow/rules/plan.smk"
include: "workflow/rules/separation.smk"
include: "workflow/rules/analyse.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/mushra.smk"
include: "workflow/rules/cells.smk"
include: "workflow/rules/bundle.smk"


rule all:
    input:
        get_final_output(),
    default_target: True

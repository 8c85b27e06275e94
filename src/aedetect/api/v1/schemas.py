"""Request bodies of the v1 API. They check types (a wrong type is a 422 naming the field); the
services check values. Unknown keys that old clients send are ignored."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Flag = Literal["Y", "N"]
Scalar = str | int | float | bool | None


class V1Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NetworkCreate(V1Body):
    biz_cate: str | None = None
    biz_sub_cate: str | None = None
    nn_title: str | None = None
    nn_desc: str | None = None
    use_flag: str | None = None
    dir: str | None = None
    config: str | None = None


class NetworkUpdate(NetworkCreate):
    pass


class VersionCreate(V1Body):
    nn_wf_ver_info: str | None = None
    nn_wf_ver_desc: str | None = None
    condition: str | None = None
    active_flag: Flag | None = None
    nn_def_list_info_nn_id: str | None = None


class VersionUpdate(VersionCreate):
    nn_wf_ver_id: int


class ModelChoice(V1Body):
    nn_batch_ver_id: str
    active_flag: Flag | None = None
    eval_flag: Flag | None = None


class WorkflowInit(V1Body):
    type: str


class DataSource(V1Body):
    type: str | None = None
    source_server: str | None = None
    source_sql: str | None = None
    preprocess: str | None = None


class DataPreprocess(V1Body):
    preprocess: str | None


class Feeder(V1Body):
    encode_column: list[str] | None = None
    vocab_size: int | None = None
    preprocess: str | None = None
    embed_type: str | None = None
    exclude_column: list[str] | None = None
    categorical: list[str] | None = None


class NetConf(V1Body):
    learning_rate: float | None = None
    iter: int | None = None
    batch_size: int | None = None
    examples_to_show: int | None = None
    n_hidden: list[int] | int | None = None
    random_state: int | None = None
    validation_fraction: float | None = None


class EvalConf(V1Body):
    type: str
    label_column: str | None = None
    normal_value: str | int | float | None = None


class Predict(V1Body):
    input_data: dict[str, Scalar] | list[dict[str, Scalar]]
    type: str | None = None

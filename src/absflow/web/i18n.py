"""Page text in Chinese (default) and English. Keys are short English phrases."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

#: key -> (中文, English)
TEXT: dict[str, tuple[str, str]] = {
    "app": ("absflow 资产证券化管理", "absflow ABS operations"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "plans": ("专项计划", "Plans"),
    "plan": ("专项计划", "Plan"),
    "code": ("计划编号", "Code"),
    "name": ("名称", "Name"),
    "asset_type": ("基础资产类型", "Asset type"),
    "status": ("状态", "Status"),
    "created_at": ("立项时间", "Initiated"),
    "parties": ("参与机构", "Parties"),
    "role": ("角色", "Role"),
    "lifecycle": ("生命周期", "Lifecycle"),
    "history": ("状态变更", "Status history"),
    "from": ("原状态", "From"),
    "to": ("新状态", "To"),
    "at": ("时间", "At"),
    "advance": ("推进至", "Advance to"),
    "submit": ("提交", "Submit"),
    "no_plans": ("暂无可查看的专项计划。", "No plans you may see."),
    "error": ("出错了", "Something went wrong"),
    "not_found": ("未找到", "Not found"),
    "back": ("返回", "Back"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "language": ("English", "中文"),
    "wrong_login": ("用户名或密码错误。", "Wrong user name or password."),
    "throttled": ("登录失败次数过多，请稍后再试。", "Too many failed sign-ins; try again later."),
    "csrf": ("表单已过期，请重试。", "The form expired; please try again."),
    "jobs": ("后台任务", "Background jobs"),
    "job": ("任务", "Job"),
    "progress": ("进度", "Progress"),
    "message": ("信息", "Message"),
    "kind": ("类型", "Kind"),
    "queued": ("排队中", "queued"),
    "running": ("运行中", "running"),
    "done": ("已完成", "done"),
    "failed": ("失败", "failed"),
    "activity": ("各状态停留天数", "Days in each status"),
    "days": ("天", "days"),
    "overview": ("概览", "Overview"),
    "users": ("用户", "Users"),
    "log": ("存证日志", "Log"),
    "checkpoints": ("签名检查点", "Signed checkpoints"),
    "size": ("日志长度", "Size"),
    "root_hash": ("根哈希", "Root hash"),
    "reason": ("原因", "Reason"),
    "none": ("暂无", "None"),
    "log_entries": ("本计划的日志条目", "Entries of this plan"),
    "business_date": ("业务日期", "Business date"),
    "content": ("内容", "Content"),
    "proof": ("存在性证明", "Inclusion proof"),
    "log_entry": ("日志条目", "Log entry"),
    "checking": ("正在浏览器中校验证明…", "Checking the proof in your browser…"),
    "proof_ok": ("已在浏览器中校验：该条目包含在签名检查点所承诺的日志中",
                 "Checked in your browser: the entry is in the log the signed checkpoint commits to"),
    "proof_bad": ("校验失败：证明与检查点不符", "Check failed: the proof does not match the checkpoint"),
    "leaf_hash": ("叶哈希", "Leaf hash"),
    "checkpoint": ("检查点", "Checkpoint"),
    "computed_root": ("由证明计算的根哈希", "Root computed from the proof"),
    "proof_explained": ("叶哈希 = SHA-256(0x00 ‖ 条目)，沿证明路径逐层计算 SHA-256(0x01 ‖ 左 ‖ 右) "
                        "得到根哈希，与检查点中的根哈希比对（RFC 9162）。签名可用 absflow verify 离线校验。",
                        "Leaf hash = SHA-256(0x00 ‖ entry); the proof path is folded with SHA-256(0x01 ‖ left ‖ right) "
                        "to a root compared with the checkpoint's root (RFC 9162). Check the signature offline with "
                        "absflow verify."),
    "tape": ("资产清单", "Loan tape"),
    "upload_tape": ("上传资产清单", "Upload a loan tape"),
    "tape_file": ("清单文件", "Tape file"),
    "mapping_file": ("字段映射（YAML，可选）", "Column mapping (YAML, optional)"),
    "mapping_hint": ("不上传映射时，表头须为标准字段名（见 docs/TAPE.md）。校验在后台运行，页面显示进度。",
                     "Without a mapping the headers must be the canonical field names (docs/TAPE.md). "
                     "Checks run in the background; the page shows progress."),
    "cutoff": ("封包日", "Cut-off date"),
    "validate_only": ("仅校验", "Validate only"),
    "import_tape": ("校验并导入", "Validate and import"),
    "batches": ("已导入批次", "Imported batches"),
    "file": ("文件", "File"),
    "rows": ("行", "rows"),
    "totals": ("合计（元）", "Totals (yuan)"),
    "tape_valid": ("校验通过：", "Valid:"),
    "tape_invalid": ("校验未通过", "Not valid"),
    "problems": ("个问题", "problem(s)"),
    "rows_read": ("行已读取", "rows read"),
    "nothing_changed": ("未做任何更改。", "Nothing was changed."),
    "imported_as_batch": ("已导入为批次", "imported as batch"),
    "already_imported": ("此前已导入，未重复写入", "imported before; nothing written"),
    "row": ("行号", "Row"),
    "column": ("列", "Column"),
    "value": ("值", "Value"),
    "code_col": ("代码", "Code"),
    "download_bundle": ("下载证明包（JSON）", "Download the proof bundle (JSON)"),
}


def translate(key: str, language: str) -> str:
    """The text for ``key`` in ``language``; the key itself when unknown."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if language == "en" else pair[0]

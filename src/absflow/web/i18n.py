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
}


def translate(key: str, language: str) -> str:
    """The text for ``key`` in ``language``; the key itself when unknown."""
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[1] if language == "en" else pair[0]

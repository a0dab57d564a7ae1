"""The form that adds a provider: a name, its server's address and, if it needs one, a key.
The key goes only to the engine, which keeps it in the OS keyring."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)


class ProviderDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add provider")
        self.setMinimumWidth(460)
        self.name = QLineEdit()
        self.name.setObjectName("providerName")
        self.name.setPlaceholderText("corp-vllm")
        self.url = QLineEdit()
        self.url.setObjectName("providerUrl")
        self.url.setPlaceholderText("https://llm.example.com/v1")
        self.key = QLineEdit()
        self.key.setObjectName("providerKey")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Server address", self.url)
        form.addRow("API key", self.key)
        note = QLabel(
            "Any OpenAI-compatible server. The key is kept in your system's keyring, never in "
            "Tailor's files. Prompts for its models — with the passages and examples put into "
            "them — are sent to this server."
        )
        note.setObjectName("hint")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Add")
        ok.setEnabled(False)
        for field in (self.name, self.url):
            field.textChanged.connect(
                lambda _t: ok.setEnabled(bool(self.name.text().strip() and self.url.text().strip()))
            )
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.buttons)

    def values(self) -> tuple[str, str, str | None]:
        """The name, the address and the key (None when left empty)."""
        return self.name.text().strip(), self.url.text().strip(), self.key.text() or None

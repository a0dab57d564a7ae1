"""The form that adds a provider: a name, its server's address and, if it needs one, a key;
how many requests evaluation runs send it at once, and its prices if it charges. The key goes
only to the engine, which keeps it in the OS keyring."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
)

NO_PRICE = "not charged"


def _price(name: str) -> QDoubleSpinBox:
    """A price per million tokens; its lowest value reads "not charged" (no cost is shown)."""
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(-0.01, 10_000)
    box.setDecimals(2)
    box.setSingleStep(0.05)
    box.setPrefix("$")
    box.setSpecialValueText(NO_PRICE)
    box.setValue(-0.01)
    return box


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
        self.concurrency = QSpinBox()
        self.concurrency.setObjectName("providerConcurrency")
        self.concurrency.setRange(1, 64)
        self.concurrency.setValue(4)
        self.concurrency.setSuffix(" at once")
        self.concurrency.setToolTip(
            "How many questions an evaluation run sends this server at once"
        )
        self.price_in = _price("providerPriceIn")
        self.price_out = _price("providerPriceOut")
        prices = QHBoxLayout()
        prices.addWidget(QLabel("prompt"))
        prices.addWidget(self.price_in, 1)
        prices.addWidget(QLabel("completion"))
        prices.addWidget(self.price_out, 1)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Server address", self.url)
        form.addRow("API key", self.key)
        form.addRow("Evaluation runs send", self.concurrency)
        form.addRow("Price per 1M tokens", prices)
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

    def values(self) -> tuple[str, str, str | None, dict]:
        """The name, the address, the key (None when left empty) and the run settings."""

        def price(box: QDoubleSpinBox) -> float | None:
            return None if box.value() < 0 else box.value()

        settings = {
            "concurrency": self.concurrency.value(),
            "price_in": price(self.price_in),
            "price_out": price(self.price_out),
        }
        return self.name.text().strip(), self.url.text().strip(), self.key.text() or None, settings

"""Reports for heads, managers and marketing: every figure a function returning a frozen DTO.

Rendering (chat text, charts, spreadsheets) lives in the bot; the Mini App will render the
same DTOs.
"""
